from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base_class import Base
from app.models.mixins import TimestampMixin, UUIDMixin
from app.models.ownership import OwnedMixin


class Document(UUIDMixin, TimestampMixin, OwnedMixin, Base):
    __tablename__ = "document"

    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
