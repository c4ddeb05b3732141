"""Bug report: the crash log of the backend shows the production database password.

Import-time code logs its configuration — the database URL, the password as a key=value
pair, a hand-built URL with the raw (unquoted) password — and then a native extension
crashes. The sidecar attaches the app's output to the crash finding: masked.
"""

import ctypes
import os
from urllib.parse import unquote, urlsplit

from sqlalchemy import Column, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Thing(Base):
    __tablename__ = "things"
    id = Column(Integer, primary_key=True)


URL = os.environ.get("SIDECAR_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
PASSWORD = unquote(urlsplit(URL).password or "")
TOKEN = os.environ.get("SIDECAR_TOKEN")
print(f"config: database_url={URL}", flush=True)
print(f"config: password={PASSWORD} token={TOKEN}", flush=True)
print(f"config: raw url postgresql://app:{PASSWORD}@db:5432/app", flush=True)
print(f"config: dsn \"host=db password='{PASSWORD}' user=app\"", flush=True)
ctypes.string_at(0)  # <- SIDECAR: segfault after logging the secrets
