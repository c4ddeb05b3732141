import uuid

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base_class import Base
from app.models.mixins import TimestampMixin, UUIDMixin


class ItemComment(UUIDMixin, TimestampMixin, Base):
    __tablename__ = "item_comment"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("item.id"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("item_comment.id"))
    body: Mapped[str] = mapped_column(Text)

    parent: Mapped["ItemComment | None"] = relationship(back_populates="replies")
    replies: Mapped[list["ItemComment"]] = relationship(back_populates="parent")
