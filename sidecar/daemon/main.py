"""`sidecar serve`: the scheduler and the HTTP server in one event loop, stopped cleanly.

On SIGTERM/SIGINT/SIGHUP readiness turns 503 first, then the running worker's process group is
killed (by cancelling the cycle), then the server closes — well within Docker's and
Kubernetes' grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import signal
import sys
import time
from typing import Any

from aiohttp import web

from sidecar.cycle import reaper
from sidecar.daemon.connections import BACKLOG, KEEPALIVE_TIMEOUT_S, ConnectionGuard
from sidecar.daemon.scheduler import Scheduler
from sidecar.daemon.server import build_app
from sidecar.daemon.state import DaemonState, ReadinessPolicy
from sidecar.settings import ConfigError, Settings

log = logging.getLogger("sidecar")

_EXTRA = ("event", "ready", "code", "reason", "url")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        out.update({k: getattr(record, k) for k in _EXTRA if hasattr(record, k)})
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(out)


class OneLine(logging.Filter):
    """aiohttp logs a malformed request with its traceback; a client's garbage is one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            detail = (str(exc).strip().splitlines() or [""])[0][:200]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {detail}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


class RateLimit(logging.Filter):
    """At most ``burst`` lines, then ``per_second`` a second, of what clients can trigger.

    Any client could write ~1,400 ERROR lines a second with malformed requests, and an fd
    shortage made asyncio log each failed accept(): the log is the on-call engineer's, not
    the attacker's. Suppressed lines are counted on the next line let through.
    """

    def __init__(self, per_second: float = 5.0, burst: int = 20) -> None:
        super().__init__()
        self.per_second = per_second
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = time.monotonic()
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.per_second)
        self.last = now
        if self.tokens < 1:
            self.suppressed += 1
            return False
        self.tokens -= 1
        if self.suppressed:
            record.msg = f"{record.getMessage()} ({self.suppressed} similar lines suppressed)"
            record.args = ()
            self.suppressed = 0
        return True


def setup_logging(fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s sidecar %(levelname)s %(message)s",
                                               "%Y-%m-%dT%H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    limit = RateLimit()  # one budget for every line a client (or an fd shortage) can cause
    for name in ("aiohttp.server", "aiohttp.web", "asyncio"):
        client_log = logging.getLogger(name)
        client_log.handlers[:] = [handler]
        client_log.filters[:] = [OneLine(), limit]
        client_log.propagate = False


def make_state(settings: Settings) -> DaemonState:
    policy = ReadinessPolicy(checks=settings.ready_checks, severity=settings.ready_severity,
                             fail_after=settings.fail_after, pass_after=settings.pass_after)
    return DaemonState(policy=policy, history_size=settings.history)


async def serve_async(settings: Settings, ready_file: Any = None) -> int:
    state = make_state(settings)
    scheduler = Scheduler(settings, state)
    app = build_app(state, scheduler, settings.token, settings.metrics_auth)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           keepalive_timeout=KEEPALIVE_TIMEOUT_S)
    await runner.setup()
    guard = ConnectionGuard()
    loop = asyncio.get_running_loop()
    assert runner.server is not None
    try:
        # loop.create_server instead of web.TCPSite: the guard wraps aiohttp's protocol
        listener = await loop.create_server(guard.factory(runner.server), settings.host,
                                            settings.port, backlog=BACKLOG)
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"--port: {settings.host}:{settings.port} is already in use") \
                from None
        raise ConfigError(f"--host/--port: cannot listen on {settings.host}:{settings.port}: "
                          f"{exc.strerror or exc}") from None
    port = listener.sockets[0].getsockname()[1] if listener.sockets else settings.port
    url = f"http://{settings.host}:{port}"
    log.info("serving on %s (models: %s)", url, ", ".join(settings.models),
             extra={"event": "listening", "url": url})
    if ready_file is not None:  # tests read the bound port from here when --port 0
        ready_file.write(f"{port}\n")
        ready_file.flush()

    stop = asyncio.Event()
    # SIGHUP (a closed terminal, some supervisors' "stop") stops like SIGTERM: the token file
    # is read once at start, and a reload that half-applies is worse than a clean restart
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    scheduler.start()
    await stop.wait()
    state.stopping = True  # /readyz answers 503 from now on
    log.info("stopping", extra={"event": "stopping"})
    await scheduler.stop()
    listener.close()
    guard.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(runner.cleanup(), 1.0)
    return 0


def serve(settings: Settings) -> int:
    setup_logging(settings.log_format)
    reaper.become_subreaper()  # the app's daemonized children come back to us to be reaped
    return asyncio.run(serve_async(settings))
