# A stand-in for the official postgres image (no registry is reachable in CI): the same
# variables (POSTGRES_USER/PASSWORD/DB, PGPORT, PGDATA) and pg_isready, on the locally built
# Debian base that already carries postgresql-15 (see tests/e2e/engine.py).
ARG BASE_IMAGE=local/sidecar-e2e-base:bookworm
FROM ${BASE_IMAGE}
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
    && chmod 700 "$PGDATA"
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
# the uid Debian's package gave `postgres` is not known before the build
# hadolint ignore=DL3066
USER postgres
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/sh", "/usr/local/bin/postgres-entrypoint.sh"]
