"""A throwaway MariaDB server for tests: own datadir, loopback TCP on a free port, its own
socket, stopped and removed at the end. Debian's ``mariadb-server`` (10.11 on bookworm),
installed by scripts/test.sh.

- ``mariadbd`` refuses to run as root without ``--user``: as root the datadir belongs to
  the ``mysql`` user the package creates and the server runs as it.
- ``--no-defaults``: nothing from /etc/mysql (the packaged server's port, socket, datadir).
- The general query log is on (``general_log``), so a test can prove which statements a
  client sent, like the PostgreSQL cluster's ``log_statement=all``.
- The root account keeps unix-socket authentication (how ``mariadb-install-db`` makes it);
  tests create password users for TCP.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote_plus

from tests.support.pgcluster import free_port

MARIADBD = Path(os.environ.get("MARIADBD", "/usr/sbin/mariadbd"))
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
CLIENT = shutil.which("mariadb") or "/usr/bin/mariadb"


def available() -> bool:
    return MARIADBD.exists() and Path(INSTALL_DB).exists()


class MariaDb:
    def __init__(self, base_dir: str | None = None) -> None:
        self.base = Path(base_dir or tempfile.mkdtemp(prefix="sidecar-mariadb-"))
        self.data = self.base / "data"
        self.socket = self.base / "mysqld.sock"
        self.general_log = self.base / "general.log"
        self.error_log = self.base / "error.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.proc: subprocess.Popen | None = None

    def _user_args(self) -> list[str]:
        return ["--user=mysql"] if self.as_root else []

    def init(self) -> MariaDb:
        if self.as_root:
            os.chmod(self.base, 0o755)
            shutil.chown(self.base, "mysql", "mysql")
        subprocess.run([INSTALL_DB, "--no-defaults", f"--datadir={self.data}",
                        "--auth-root-authentication-method=socket", "--skip-test-db",
                        *self._user_args()], check=True, capture_output=True, text=True)
        return self

    def start(self, timeout: float = 60) -> MariaDb:
        args = [str(MARIADBD), "--no-defaults", f"--datadir={self.data}",
                f"--socket={self.socket}", f"--port={self.port}", "--bind-address=127.0.0.1",
                f"--log-error={self.error_log}", "--general-log=1",
                f"--general-log-file={self.general_log}", f"--pid-file={self.base}/pid",
                "--skip-name-resolve", "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=8M", *self._user_args()]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self._tail()}")
            try:
                self.sql("SELECT 1")
                return self
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not start in {timeout:.0f} s: {self._tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> MariaDb:
        return self.init().start()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def _tail(self) -> str:
        try:
            return self.error_log.read_text()[-2000:]
        except OSError:
            return "(no error log)"

    # --- SQL as root over the socket -------------------------------------------------------

    def sql(self, text: str, database: str | None = None) -> str:
        cmd = [CLIENT, "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "-B"]
        if database:
            cmd.append(database)
        return subprocess.run(cmd, input=text, check=True, capture_output=True,
                              text=True).stdout

    def create_user(self, user: str, password: str) -> None:
        self.sql(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}';"
                 f"CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY '{password}';")

    def create_database(self, name: str, owner: str | None = None) -> None:
        self.sql(f"CREATE DATABASE `{name}`;")
        if owner:
            self.sql(f"GRANT ALL ON `{name}`.* TO '{owner}'@'%'; "
                     f"GRANT ALL ON `{name}`.* TO '{owner}'@'localhost';")

    def url(self, database: str, user: str, password: str | None,
            driver: str = "pymysql", port: int | None = None) -> str:
        auth = quote_plus(user) + (f":{quote_plus(password)}" if password is not None else "")
        return f"mysql+{driver}://{auth}@127.0.0.1:{port or self.port}/{database}"

    def statements(self, user: str, after: str) -> list[str]:
        """What ``user``'s sessions sent (the general log's Query lines) after the query
        ``SELECT '<after>'``: a test's own marker, so earlier tests' sessions are left out."""
        text = self.general_log.read_text(errors="replace")
        start = text.rfind(f"SELECT '{after}'")
        assert start >= 0, f"marker {after!r} not in the general log"
        sessions: set[str] = set()
        out = []
        for line in text[start:].splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            head = parts[-2].split()  # "<thread id> <command>"
            if len(head) < 2:
                continue
            thread, command, argument = head[0], head[1], parts[-1]
            if command == "Connect" and argument.startswith(f"{user}@"):
                sessions.add(thread)
            elif command == "Query" and thread in sessions:
                out.append(argument)
        return out
