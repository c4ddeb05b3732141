"""Alembic environment of the example backend.

``target_metadata`` is both MetaData objects the app defines (Flask-SQLAlchemy's ``db.metadata``
and the plain ``Base.metadata``), so autogenerate and the sidecar's drift check see every table.
The database URL comes from ``DATABASE_URL``.
"""

import os
from logging.config import fileConfig

from alembic import context
from server import models_plain, models_sql  # noqa: F401  (registers the tables)
from server.db import db
from sqlalchemy import engine_from_config, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("set DATABASE_URL (e.g. sqlite:////tmp/example.db) to run migrations")
config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))

target_metadata = [db.metadata, models_plain.Base.metadata]


def run_migrations_offline() -> None:
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
