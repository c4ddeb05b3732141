from sqlalchemy import Column, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base_class import Base

setting_table = Table(
    "setting",
    Base.metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)


class Setting(Base):
    __table__ = setting_table

    description: Mapped[str | None] = mapped_column(Text)
