import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base_class import Base
from app.models.mixins import TimestampMixin, UUIDMixin


class FileBase(UUIDMixin, TimestampMixin, Base):
    __abstract__ = True

    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(512))


class Attachment(FileBase):
    __tablename__ = "attachment"

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("item.id"))


class Avatar(FileBase):
    __tablename__ = "avatar"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), unique=True)


class Upload(UUIDMixin, Base):
    __tablename__ = "upload_batch"

    label: Mapped[str] = mapped_column(String(100))
    files: Mapped[list["FileBase"]] = relationship()
