"""Bug report: the readiness endpoint of a previous tool echoed our database password.

Import-time code fails with an exception whose message quotes the database URL.
"""

import os

from sqlalchemy import Column, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Thing(Base):
    __tablename__ = "things"
    id = Column(Integer, primary_key=True)


URL = os.environ.get("SIDECAR_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
raise RuntimeError(f"cannot warm up against {URL}")  # <- SIDECAR: the URL in a message
