import enum
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base_class import Base
from app.models.mixins import TimestampMixin, UUIDMixin

if TYPE_CHECKING:
    from .project import Project
    from .user import User


class ItemStatus(enum.Enum):
    open = "open"
    in_progress = "in_progress"
    done = "done"


class Item(UUIDMixin, TimestampMixin, Base):
    __tablename__ = "item"

    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[ItemStatus] = mapped_column(Enum(ItemStatus), default=ItemStatus.open)
    owner_id: Mapped[uuid.UUID] = mapped_column(index=True)
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("project.id"))

    owner: Mapped["User"] = relationship(back_populates="items")
    project: Mapped["Project | None"] = relationship(back_populates="items")
