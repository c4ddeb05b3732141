import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base_class import Base
from app.models.mixins import TimestampMixin, UUIDMixin
from app.models.user import User


class Handover(UUIDMixin, TimestampMixin, Base):
    """An item handed from one user to another."""

    __tablename__ = "handover"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("item.id"))
    from_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    to_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str | None] = mapped_column(String(255))

    from_user: Mapped[User] = relationship(foreign_keys=[from_user_id])
    to_user: Mapped[User] = relationship()
