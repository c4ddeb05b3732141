"""Connection limits for the probe server: a header deadline, and a cap below the fd limit.

aiohttp (3.9-3.14) has no deadline for a request's headers and no cap on connections: 1,100
silent sockets under a 1,024-fd soft limit (a common container default) made every `/readyz`
time out and the next cycle fail on ``os.pipe()`` (EMFILE). Each accepted connection here is
wrapped in a thin protocol that only watches for the end of the request headers; a
connection still sending headers after ``header_timeout_s`` is closed, and at the cap the
oldest such connection makes room for the new one, so a probe always gets an answer while
idle sockets are shed cheaply. Keep-alive between requests is aiohttp's own
``keepalive_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

HEADER_TIMEOUT_S = 10.0  # kubelet's probes send their headers at once; nginx uses 60 s
KEEPALIVE_TIMEOUT_S = 15.0  # idle between requests on one connection
# asyncio accepts up to `backlog` sockets in one go before any of their protocols exists (so
# before the guard can make room; 3.8-3.13): the reserve covers two such batches plus the
# fds a cycle needs (pipes, the worker's stdio, the database socket) and the log.
BACKLOG = 256
RESERVED_FDS = 64 + 2 * BACKLOG
MIN_CONNECTIONS = 16
END_OF_HEADERS = b"\r\n\r\n"


def connection_cap(reserve: int = RESERVED_FDS) -> int:
    """Connections the server may hold: the fd soft limit minus what the cycles need."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(MIN_CONNECTIONS, soft - reserve)


class _Watched(asyncio.Protocol):
    """Forwards everything to aiohttp's protocol; notes when a request's headers ended."""

    def __init__(self, guard: ConnectionGuard, inner: Any) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.BaseTransport | None = None
        self.headers_started: float | None = None  # None: not inside a request's headers
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.headers_started = self.guard.now()  # a silent new connection counts as slow
        self.guard.opened(self)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.headers_started is None:
            self.headers_started = self.guard.now()
        seen = self._tail + data
        if END_OF_HEADERS in seen:
            # the rest (a body, the next pipelined request) is aiohttp's to bound
            self.headers_started = None
            self._tail = b""
        else:
            self._tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()  # type: ignore[no-any-return, unused-ignore]

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed(self)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def abort(self) -> None:
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.abort()  # type: ignore[attr-defined]


class ConnectionGuard:
    """Counts live connections, closes slow ones, and makes room at the cap."""

    def __init__(self, cap: int | None = None, header_timeout_s: float = HEADER_TIMEOUT_S
                 ) -> None:
        self.cap = cap or connection_cap()
        self.header_timeout_s = header_timeout_s
        self.live: OrderedDict[_Watched, None] = OrderedDict()  # oldest first
        self.shed = 0  # closed to make room at the cap
        self.timed_out = 0  # closed for sending headers too slowly (or nothing at all)
        self._sweeper: asyncio.TimerHandle | None = None

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    def factory(self, make_protocol: Callable[[], Any]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server`` around aiohttp's ``web.Server``."""
        return lambda: _Watched(self, make_protocol())

    def opened(self, conn: _Watched) -> None:
        self.live[conn] = None
        if len(self.live) > self.cap:
            self._make_room(conn)
        if self._sweeper is None:
            self._schedule()

    def closed(self, conn: _Watched) -> None:
        self.live.pop(conn, None)

    def _make_room(self, newest: _Watched) -> None:
        # the oldest connection still in its headers first (a slowloris, a silent socket),
        # else the oldest of all; never the one just accepted: that may be the probe
        victim = next((c for c in self.live if c.headers_started is not None
                       and c is not newest), None)
        if victim is None:
            victim = next((c for c in self.live if c is not newest), None)
        if victim is not None:
            self.live.pop(victim, None)
            self.shed += 1
            victim.abort()

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(min(1.0, self.header_timeout_s / 2), self.sweep)

    def sweep(self) -> None:
        """Close every connection that has been in its headers longer than the deadline."""
        self._sweeper = None
        deadline = self.now() - self.header_timeout_s
        for conn in [c for c in self.live
                     if c.headers_started is not None and c.headers_started < deadline]:
            self.live.pop(conn, None)
            self.timed_out += 1
            conn.abort()
        if self.live:
            self._schedule()

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
