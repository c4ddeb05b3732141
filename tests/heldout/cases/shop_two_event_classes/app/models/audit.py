from sqlalchemy import JSON, Column, DateTime, Integer, String

from app.database import Base


class Event(Base):
    """Audit trail entry."""

    __tablename__ = "audit_events"

    id = Column(Integer, primary_key=True)
    actor = Column(String(255))
    action = Column(String(50), nullable=False)
    payload = Column(JSON)
    created_at = Column(DateTime, nullable=False)
