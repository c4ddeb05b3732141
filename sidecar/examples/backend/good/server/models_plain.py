"""Plain SQLAlchemy 2.x models (``DeclarativeBase`` + ``Mapped``), on their own MetaData.

Kept apart from the Flask-SQLAlchemy models on purpose: a backend often has both styles, and
the sidecar must find the tables of each.
"""

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_created", "actor", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(timezone.utc)
    )

    attachments: Mapped[list["AuditAttachment"]] = relationship(back_populates="audit_log")


class AuditAttachment(Base):
    __tablename__ = "audit_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_log_id: Mapped[int] = mapped_column(ForeignKey("audit_log.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int]

    audit_log: Mapped[AuditLog] = relationship(back_populates="attachments")
