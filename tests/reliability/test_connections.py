"""Issue 11 item 3: probes keep answering under idle connections, and clients cannot fill the
log. The daemon runs under a container's common 1,024-fd soft limit; the test holds 1,100
silent sockets (more than the daemon has fds), probes /readyz throughout, and checks that
cycles go on. Deadlines are generous (against hangs only); the latencies are printed."""

from __future__ import annotations

import contextlib
import re
import resource
import socket
import time

import pytest

from sidecar.daemon.connections import HEADER_TIMEOUT_S
from tests.reliability.conftest import FAST, RelDaemon
from tests.reliability.matrix import record
from tests.support.helpers import FIXTURES

pytestmark = pytest.mark.reliability

IDLE = 1100
FD_LIMIT = 1024


def _container_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@pytest.fixture
def many_fds():
    """This process needs more than 1,100 sockets of its own."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE + 200
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"the hard fd limit {hard} is below {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _probe(port: int) -> tuple[int | None, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", reply)
    return (int(m.group(1)) if m else None), time.monotonic() - started


def _cycles(d: RelDaemon) -> float:
    return d.metrics()["sidecar_cycles_total"]


def test_idle_connections_do_not_starve_probes_or_cycles(daemon, many_fds):
    d = daemon("--app-path", str(FIXTURES / "good_plain"), "--models", "app.models", *FAST,
               preexec=_container_fd_limit)
    d.wait_ready()
    cycles_before = _cycles(d)
    idle: list[socket.socket] = []
    latencies: list[float] = []
    try:
        for _ in range(IDLE):
            with contextlib.suppress(OSError):
                idle.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
        assert len(idle) >= FD_LIMIT, len(idle)
        for _ in range(30):  # about 6 s of probing while the sockets stay open
            status, took = _probe(d.port)
            assert status == 200, (status, d.log[-20:])
            latencies.append(took)
            time.sleep(0.2)
        d.wait_for(lambda: _cycles(d) >= cycles_before + 3, 60, "three more cycles")
    finally:
        for s in idle:
            s.close()
    print(f"\n/readyz under {IDLE} idle sockets, fd limit {FD_LIMIT}: "
          f"max {max(latencies) * 1000:.0f} ms, median "
          f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms")
    readiness = d.readyz()
    ready = d.metrics()["sidecar_ready"]
    assert not [line for line in d.log if "Too many open files" in line], d.log[-20:]
    assert not [line for line in d.log if "Traceback" in line], d.log[-20:]
    d.assert_healthy_process()
    d.stop_and_check()
    record("idle-connections", readiness=readiness, code="—", hint=None,
           metric=f"sidecar_ready {ready:g}",
           max_probe_ms=round(max(latencies) * 1000),
           median_probe_ms=round(sorted(latencies)[len(latencies) // 2] * 1000))


def test_a_silent_connection_is_closed_after_the_header_deadline(daemon):
    d = daemon("--app-path", str(FIXTURES / "good_plain"), "--models", "app.models", *FAST)
    d.wait_first_cycle()
    with socket.create_connection(("127.0.0.1", d.port), timeout=HEADER_TIMEOUT_S * 4) as s:
        s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")  # a slowloris: never ends them
        started = time.monotonic()
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(1) == b""  # closed by the server (a hang fails on the timeout)
    print(f"\nslow headers closed after {time.monotonic() - started:.1f} s")
    d.stop_and_check()


def test_malformed_request_flood_does_not_fill_the_log(daemon):
    d = daemon("--app-path", str(FIXTURES / "good_plain"), "--models", "app.models", *FAST)
    d.wait_first_cycle()
    before = len(d.log)
    sent = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", d.port), timeout=5) as s:
            s.sendall(b"GET /readyz HTTP/9.9\r\n\r\n")
            with contextlib.suppress(OSError):
                s.recv(1024)
            sent += 1
    time.sleep(1.5)
    # one more, to carry the count of suppressed lines
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", d.port),
                                                                timeout=5) as s:
        s.sendall(b"GET /readyz HTTP/9.9\r\n\r\n")
        s.recv(1024)
    d.wait_for(lambda: any("suppressed" in line for line in d.log[before:]), 20,
               "the count of suppressed lines")
    logged = [line for line in d.log[before:] if " ERROR " in line or "error" in line.lower()]
    print(f"\n{sent} malformed requests, {len(logged)} error lines logged")
    assert sent > 100, sent
    assert len(logged) < sent / 4, (sent, len(logged))
    d.assert_healthy_process()
    d.stop_and_check()
