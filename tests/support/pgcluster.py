"""A throwaway PostgreSQL cluster for tests and benchmarks: init, start, stop, restart.

Independent of sidecar and of pytest, so the database tests, the fault tests, the daemon
tests and ``benchmarks/`` can all import it, as ``tests.support.pgcluster`` (the repo root
on ``sys.path``).

- Binaries: ``$PG_BIN`` or /usr/lib/postgresql/15/bin (Debian layout).
- ``initdb`` refuses to run as root and CI runs as root: then every server command runs as
  the ``postgres`` user (``runuser -u postgres --``) on a data dir it owns; a non-root
  developer runs them directly.
- TCP on 127.0.0.1 only, on a free port; password authentication (scram) for TCP so that
  tests can exercise "wrong password"; the unix socket lives in the cluster's own dir.
- ``log_statement=all`` by default, with the application name in every log line, so a test
  can prove which statements a client sent.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote_plus

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "su-Pw-7c1e9f"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available() -> bool:
    return (PG_BIN / "initdb").exists()


class PgCluster:
    def __init__(self, base_dir: str | None = None, port: int | None = None,
                 log_statements: bool = True) -> None:
        self.base = Path(base_dir or tempfile.mkdtemp(prefix="sidecar-pg-"))
        self.data = self.base / "data"
        self.logfile = self.base / "server.log"
        self.port = port or free_port()
        self.log_statements = log_statements
        self.as_root = os.geteuid() == 0

    # --- process control -----------------------------------------------------------------

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        return ["runuser", "-u", SUPERUSER, "--", *cmd] if self.as_root else cmd

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(self._cmd(*args), check=check, capture_output=True, text=True,
                              cwd=str(self.base))

    def init(self) -> PgCluster:
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        pwfile = self.base / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if self.as_root:
            shutil.chown(self.base, SUPERUSER, SUPERUSER)
            shutil.chown(pwfile, SUPERUSER, SUPERUSER)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--pwfile", str(pwfile),
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                  "--no-instructions", "--locale=C")
        conf = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.base}'",
            "fsync = off", "synchronous_commit = off", "full_page_writes = off",
            "max_connections = 60", "shared_buffers = 32MB",
            "log_line_prefix = '%m [%p] app=%a db=%d user=%u '",
            "log_min_messages = warning",
        ]
        if self.log_statements:
            conf.append("log_statement = 'all'")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n" + "\n".join(conf) + "\n")
        return self

    def start(self) -> PgCluster:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "30",
                  "start")
        return self

    def stop(self, mode: str = "fast") -> PgCluster:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
        return self

    def restart(self) -> PgCluster:
        return self.stop().start()

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self.init().start()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # --- clients -------------------------------------------------------------------------

    def url(self, dbname: str = "postgres", user: str = SUPERUSER,
            password: str | None = SUPERUSER_PASSWORD, driver: str | None = "psycopg2",
            host: str = "127.0.0.1", port: int | None = None) -> str:
        """A SQLAlchemy URL (``driver=None`` gives a bare ``postgresql://``)."""
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        auth = quote_plus(user) + (f":{quote_plus(password)}" if password is not None else "")
        return f"{scheme}://{auth}@{host}:{port or self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL as the superuser over the unix socket (trusted; no password needed)."""
        out = self._run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.base),
                        "-p", str(self.port), "-U", SUPERUSER, "-d", dbname, "-At",
                        "-c", sql, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout

    def create_role(self, name: str, password: str) -> None:
        self.psql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")

    def create_database(self, name: str, owner: str = SUPERUSER) -> None:
        self.psql(f'CREATE DATABASE "{name}" OWNER {owner} TEMPLATE template0 '
                  "STRATEGY FILE_COPY")

    def log_text(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def wait_until_ready(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("PostgreSQL did not accept connections")
