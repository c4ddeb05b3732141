from geoalchemy2 import Geometry
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base_class import Base
from app.models.mixins import UUIDMixin


class Site(UUIDMixin, Base):
    __tablename__ = "site"

    name: Mapped[str] = mapped_column(String(120))
    location = mapped_column(Geometry("POINT", srid=4326))
