"""A unique password (and a bearer token) through every failure path: refused, authentication
failure, missing database, malformed URL, SQL error, app exception quoting the URL, worker
crash after printing it. Neither appears in any HTTP body or header, metric, log line or CLI
output — in any of the forms it could be printed in (raw, URL-quoted, repr-escaped)."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from sidecar.worker import registry
from tests.reliability.conftest import FAST, new_database
from tests.support.helpers import run_cli

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

APPS = Path(__file__).resolve().parent / "apps"
SECRET = f"sEcr3t-{uuid.uuid4().hex[:8]}@{uuid.uuid4().hex[:8]}/ss"  # '@' and '/' need quoting
TOKEN = f"tok-{uuid.uuid4().hex}"
ROLE = "secretrole"
CHECKS = tuple(registry.names())


def forms(secret: str) -> set[str]:
    """Every printed form, and each half around an '@' (a half-masked password)."""
    head, _, tail = secret.partition("@")
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
            repr(secret)[1:-1], head, tail} - {""}


def assert_clean(where: str, text: str) -> None:
    for secret in (SECRET, TOKEN):
        for form in forms(secret):
            assert form not in text, f"{where} leaks {form!r}:\n{text[:3000]}"


@pytest.fixture(scope="module")
def secret_db(pg, tmp_path_factory):
    """A role whose password is the secret; a database it can read; one whose
    alembic_version it may not read (a SQL error); an Alembic setup pointing at it."""
    pg.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{SECRET}'")
    ok = new_database(pg)
    pg.psql(f"GRANT CONNECT ON DATABASE {ok} TO {ROLE}; GRANT SELECT ON ALL TABLES IN SCHEMA "
            f"public TO {ROLE}", ok)
    denied = new_database(pg)
    pg.psql(f"GRANT CONNECT ON DATABASE {denied} TO {ROLE}; CREATE TABLE alembic_version "
            "(version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('a1')",
            denied)
    app = tmp_path_factory.mktemp("secret_app")
    (app / "app").mkdir()
    (app / "app" / "__init__.py").write_text("")
    (app / "app" / "models.py").write_text(textwrap.dedent('''
        from sqlalchemy import Column, Integer, String
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()


        class Item(Base):
            __tablename__ = "items"
            id = Column(Integer, primary_key=True)
            name = Column(String(100))
    '''))
    versions = app / "migrations" / "versions"
    versions.mkdir(parents=True)
    (app / "migrations" / "env.py").write_text("")
    (versions / "a1_first.py").write_text('revision = "a1"\ndown_revision = None\n'
                                          "def upgrade():\n    pass\n")
    (app / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    return {"ok": ok, "denied": denied, "app": app}


def _url(pg, dbname: str, user: str = ROLE, port: int | None = None) -> str:
    return pg.url(dbname, user, SECRET, port=port)


def _paths(pg, secret_db) -> dict[str, tuple[Path, str, str]]:
    """path name -> (app, database URL, the code that proves the path was taken)."""
    from tests.support.pgcluster import free_port

    app = secret_db["app"]
    return {
        "refused": (app, _url(pg, secret_db["ok"], port=free_port()), "DB201"),
        "auth-failure": (app, _url(pg, secret_db["ok"], user="relapp"), "DB204"),
        "missing-database": (app, _url(pg, "no_such_db"), "DB205"),
        # a URL SQLAlchemy cannot parse (the port is not a number): quoted back verbatim
        "malformed-url": (app, f"postgresql+psycopg2://{ROLE}:{quote_plus(SECRET)}"
                          "@127.0.0.1:port/x", "DB207"),
        "sql-error": (app, _url(pg, secret_db["denied"]), "MIG399"),
        "app-exception": (APPS / "leaky_exception", _url(pg, secret_db["ok"]), "SQLA199"),
        "worker-crash": (APPS / "leaky_crash", _url(pg, secret_db["ok"]), "SIDE002"),
    }


PATHS = ("refused", "auth-failure", "missing-database", "malformed-url", "sql-error",
         "app-exception", "worker-crash")


@pytest.mark.parametrize("path", PATHS)
def test_secret_never_leaks(path, pg, secret_db, daemon):
    app, url, code = _paths(pg, secret_db)[path]
    env = {"SIDECAR_DATABASE_URL": url, "SIDECAR_TOKEN": TOKEN}
    base = ["--app-path", str(app), "--models", "app.models"]
    # the CLI, both formats (the URL from the environment, as in a container)
    for fmt in ("json", "text"):
        result = run_cli("check", *base, "--format", fmt, "--timeout", "10", env=env)
        assert result.returncode == 1, result.stderr
        assert_clean(f"check --format {fmt} stdout", result.stdout)
        assert_clean(f"check --format {fmt} stderr", result.stderr)
        if fmt == "json":
            codes = [f["code"] for c in result.report["checks"] for f in c["findings"]]
            assert set(code.split("|")) & set(codes), (path, codes)
    # ... and the URL as a flag
    flag = run_cli("check", *base, "--database-url", url, "--timeout", "10")
    assert_clean("check --database-url", flag.stdout + flag.stderr)
    # the daemon: every route, with and without the token, in every format
    log_format = "json" if PATHS.index(path) % 2 else "text"
    d = daemon(*base, *FAST, "--log-format", log_format, env=env)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    d.wait_for(lambda: any(c in d.request("/diagnose?format=json", headers=auth)[2]
                           for c in code.split("|")), 20, f"finding {code}")
    routes = ["/livez", "/healthz", "/readyz", "/readyz?verbose", "/metrics",
              "/diagnose", "/diagnose?format=json", "/diagnose?format=html",
              "/diagnose?format=health", "/diagnose?format=text",
              *(f"/readyz/{c}" for c in CHECKS), *(f"/readyz/{c}?verbose" for c in CHECKS)]
    seen = 0
    for route in routes:
        for headers in ({}, auth, {**auth, "Accept": "text/html"},
                        {**auth, "Accept": "application/health+json"}):
            status, resp_headers, body = d.request(route, headers=headers)
            assert status < 500 or status == 503, (route, status)
            assert_clean(f"{route} body", body)
            assert_clean(f"{route} headers", json.dumps(resp_headers))
            seen += len(body)
    status, _, body = d.request("/refresh", method="POST", headers=auth)
    assert_clean("/refresh", body)
    status, _, body = d.request("/readyz?verbose")
    assert "reason withheld" in body or status == 200, body
    d.stop_and_check()
    assert_clean("daemon log", "\n".join(d.log))
    assert seen > 5000, "the bodies were read"


PRINTS_ENV = '''
import os, sys

# an app that logs its configuration at import, as many do
print("config:", os.environ.get("PGPASSWORD"), os.environ.get("DATABASE_URL"),
      os.environ.get("SIDECAR_TOKEN_FILE"), file=sys.stderr)
raise RuntimeError("cannot start with " + os.environ.get("DATABASE_URL", ""))
'''


def _elsewhere(pg, dbname: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Issue 11 item 2: the password where it is not the URL's userinfo."""
    host = f"127.0.0.1:{pg.port}"
    return {
        "query-password": (f"postgresql://{ROLE}@{host}/{dbname}?password="
                           f"{quote_plus(SECRET)}", {}),
        "query-sslpassword": (f"postgresql://{ROLE}@{host}/{dbname}?sslpassword="
                              f"{quote_plus(SECRET)}&sslmode=disable", {}),
        "dsn-password": ("postgresql:///?dsn=" + quote_plus(
            f"host=127.0.0.1 port={pg.port} dbname={dbname} user={ROLE} "
            f"password='{SECRET}'"), {}),
        "pgpassword": (f"postgresql://{ROLE}@{host}/no_such_db_pgpass",
                       {"PGPASSWORD": SECRET}),
    }


@pytest.mark.parametrize("where", ["query-password", "query-sslpassword", "dsn-password",
                                   "pgpassword"])
def test_secrets_outside_the_userinfo_never_leak(where, pg, secret_db, tmp_path):
    url, extra = _elsewhere(pg, secret_db["ok"])[where]
    app = tmp_path / "prints"
    (app / "app").mkdir(parents=True)
    (app / "app" / "__init__.py").write_text("")
    (app / "app" / "models.py").write_text(PRINTS_ENV)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    env = {"SIDECAR_DATABASE_URL": url, "DATABASE_URL": url, **extra}
    for fmt in ("json", "text"):
        result = run_cli("check", "--app-path", str(app), "--models", "app.models",
                         "--format", fmt, "--timeout", "20", env=env)
        assert result.returncode == 1, result.stderr
        assert_clean(f"{where}: check --format {fmt}", result.stdout + result.stderr)
        if fmt == "json":
            database = result.check("database")
            assert_clean("observed", json.dumps(database.get("observed")))
    # the app never sees the token file's path (nor the token)
    result = run_cli("check", "--app-path", str(app), "--models", "app.models", "--timeout",
                     "20", env={**env, "SIDECAR_TOKEN_FILE": str(token_file)})
    assert str(token_file) not in result.stdout + result.stderr
