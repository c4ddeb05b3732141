import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base_class import Base


class Notification(Base):
    __tablename__ = "notification"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "notification"}


class EmailNotification(Notification):
    __tablename__ = "email_notification"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))

    __mapper_args__ = {"polymorphic_identity": "email"}


class WebhookNotification(Notification):
    __tablename__ = "webhook_notification"

    id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notification.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))

    __mapper_args__ = {"polymorphic_identity": "webhook"}
