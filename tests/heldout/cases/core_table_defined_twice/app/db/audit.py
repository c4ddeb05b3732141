from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, func

from app.db.metadata import metadata

log = Table(
    "log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dttm", DateTime, server_default=func.now()),
    Column("event", String(60)),
    Column("owner", String(500)),
)

dag_runs = Table(
    "dag_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dag_id", String(250), ForeignKey("dags.dag_id")),
    Column("note", String(1000)),
)
