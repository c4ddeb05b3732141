from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    func,
)

from app.db.metadata import metadata

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
)

dags = Table(
    "dags",
    metadata,
    Column("dag_id", String(250), primary_key=True),
    Column("is_paused", Boolean, default=False),
    Column("owner_id", Integer, ForeignKey("accounts.id")),
    Column("schedule", String(100)),
    Column("description", Text),
)

dag_runs = Table(
    "dag_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dag_id", String(250), ForeignKey("dags.dag_id"), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("state", String(50)),
    Column("started_at", DateTime, server_default=func.now()),
    Column("ended_at", DateTime),
)

task_instances = Table(
    "task_instances",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("dag_runs.id", ondelete="CASCADE"), nullable=False),
    Column("task_id", String(250), nullable=False),
    Column("try_number", Integer, default=0),
    Column("state", String(20)),
)
