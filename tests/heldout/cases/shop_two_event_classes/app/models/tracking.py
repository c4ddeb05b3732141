from sqlalchemy import Column, DateTime, ForeignKey, Integer, String

from app.database import Base


class Event(Base):
    """Parcel tracking event from the carrier."""

    __tablename__ = "tracking_events"

    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False)
    carrier_code = Column(String(20))
    happened_at = Column(DateTime, nullable=False)
