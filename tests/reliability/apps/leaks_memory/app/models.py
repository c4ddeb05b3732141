"""Bug report: the node's OOM killer takes out the backend (and the sidecar with it).

Import-time code "warms a cache" that grows without bound. Under the sidecar's worker memory
cap (RLIMIT_AS) the allocation fails with MemoryError instead.
"""

from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class User(Base):
    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    name = Column(String(100))


_CACHE = []
while True:  # <- SIDECAR: leaks 16 MiB per turn until the memory cap stops it
    _CACHE.append(bytearray(16 * 1024 * 1024))
