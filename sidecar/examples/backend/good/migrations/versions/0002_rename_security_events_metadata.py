"""rename security_events.metadata to event_metadata

The incident's Migration 70. ``metadata`` is reserved by SQLAlchemy's Declarative API, so the
model attribute became ``event_metadata``; this renames the column to match. Plain
``ALTER TABLE ... RENAME COLUMN`` on PostgreSQL and on SQLite >= 3.25. On MySQL and MariaDB
Alembic renames with ``CHANGE COLUMN``, which restates the column: it refuses without
``existing_type`` (and a NOT NULL column needs ``existing_nullable=False``, or it turns
nullable; this one is nullable, said explicitly).

Revision ID: 0002
Revises: 0001
Create Date: 2024-02-01 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("security_events", "metadata", new_column_name="event_metadata",
                    existing_type=sa.JSON(), existing_nullable=True)


def downgrade() -> None:
    op.alter_column("security_events", "event_metadata", new_column_name="metadata",
                    existing_type=sa.JSON(), existing_nullable=True)
