#!/bin/sh
# Migrate, then serve. A failed migration is logged and the server starts anyway, as many
# real backends do: that is how a broken backend ends up "running" — and why its health
# must come from the sidecar, which says what is wrong.
alembic upgrade "${MIGRATE_TO:-head}" || echo "backend: migrations to ${MIGRATE_TO:-head} failed" >&2
exec python3 /app/wsgi.py
