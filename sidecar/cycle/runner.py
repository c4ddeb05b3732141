"""Start the worker under the app's interpreter, bounded in time and output, and collect it.

The worker runs in its own session (process group) so a timeout kills everything the app
started at import time too; what escapes the group is found by its run tag
(cycle/reaper.py). Its result comes back on a dedicated pipe; stdout/stderr are the app's
and are only kept as a capped tail, because an app may print anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sidecar.cycle import reaper
from sidecar.worker import protocol, writes
from sidecar.worker.bootstrap import BOOTSTRAP

WORKER_DIR = str(Path(__file__).parent.parent / "worker")
Outcome = Literal["ok", "timeout", "crashed", "exited", "no_result", "spawn_failed"]

DEFAULT_TAIL_BYTES = 64 * 1024
RESULT_LINE_LIMIT = 64 * 1024 * 1024  # one JSON line may carry a large drift result
DONE_GRACE_S = 2.0  # a worker that said "done" and does not exit (an app's atexit hook)
# The sidecar's own secrets: the app's import-time code has no business seeing them.
PRIVATE_ENV = ("SIDECAR_TOKEN", "SIDECAR_TOKEN_FILE")


class Tail:
    """Keeps the last ``cap`` bytes of a stream and counts them all."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.total = 0
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self._buf += chunk
        if len(self._buf) > 2 * self.cap:
            del self._buf[: len(self._buf) - self.cap]

    @property
    def data(self) -> bytes:
        return bytes(self._buf[-self.cap :])

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


@dataclass
class WorkerRun:
    """Everything the runner observed about one worker process."""

    outcome: Outcome
    returncode: int | None
    duration_s: float
    events: list[dict[str, Any]] = field(default_factory=list)
    stdout: Tail = field(default_factory=lambda: Tail(DEFAULT_TAIL_BYTES))
    stderr: Tail = field(default_factory=lambda: Tail(DEFAULT_TAIL_BYTES))
    error: str | None = None  # why the worker could not be started

    @property
    def hello(self) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("event") == protocol.HELLO), None)

    @property
    def protocol_ok(self) -> bool:
        """The worker said hello in our protocol: only then are its results read."""
        hello = self.hello
        return hello is not None and hello.get("protocol") == protocol.PROTOCOL_VERSION

    def _of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event] if self.protocol_ok else []

    @property
    def checks(self) -> list[dict[str, Any]]:
        return [e["result"] for e in self._of(protocol.CHECK)]

    @property
    def caches(self) -> dict[str, Any]:
        """What each check keeps for its next run, by check name."""
        return {e["check"]: e["data"] for e in self._of(protocol.CACHE)}

    @property
    def versions(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for event in self.events:  # "hello", then "versions" updates
            out.update(event.get("versions") or {})
        return out

    @property
    def last_phase(self) -> dict[str, Any]:
        return next((e for e in reversed(self.events) if e.get("event") == protocol.PHASE),
                    {})

    @property
    def output_bytes(self) -> int:
        return self.stdout.total + self.stderr.total


def memory_limit(limit_mb: int | None) -> Callable[[], None] | None:
    """A ``preexec`` that caps the worker's address space (RLIMIT_AS) at ``limit_mb`` MiB.

    Runs in the forked child before exec, so only the worker (and what the app spawns)
    is capped. A leaking import then gets MemoryError (or dies allocating) instead of
    pushing the node into the OOM killer, which might pick the app or the daemon. The
    child only calls C functions here (``resource`` is imported up front): the daemon has
    threads, and a lock another thread held at fork time would never be released.
    """
    if not limit_mb:
        return None
    cap = int(limit_mb) * 1024 * 1024

    def apply() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        new_hard = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (new_hard, new_hard))

    return apply


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class _Collect(asyncio.Protocol):
    """Reads one of the worker's output pipes into a Tail; ``closed`` when it hits EOF."""

    def __init__(self, tail: Tail) -> None:
        self.tail = tail
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.tail.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def _read_events(reader: asyncio.StreamReader, events: list[dict[str, Any]],
                       done: asyncio.Event) -> None:
    while line := await reader.readline():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a truncated last line from a killed worker
        events.append(event)
        if event.get("event") == protocol.DONE:
            done.set()


def _pipe() -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, True)
    return read_fd, write_fd


def worker_env(tag: str) -> dict[str, str]:
    """The worker's environment: ours, without the sidecar's secrets, tagged with its run."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")  # never write .pyc into the app
    for name in PRIVATE_ENV:
        env.pop(name, None)
    env[reaper.RUN_TAG_VAR] = tag  # inherited by all the app starts: killed after the run
    # libpq connections the app opens at import refuse writes in PostgreSQL itself
    env["PGOPTIONS"] = writes.pgoptions(env.get("PGOPTIONS"))
    return env


async def spawn(python: str, app_path: str, tag: str, write_fds: tuple[int, int, int],
                preexec: Callable[[], None] | None) -> asyncio.subprocess.Process:
    """Start the worker in its own session; ``write_fds`` (result, stdout, stderr) are
    closed here once the child has them. Raises OSError when it cannot start (the caller
    closes the fds then)."""
    result_w, out_w, err_w = write_fds

    def child_setup() -> None:
        reaper.die_with_parent()
        if preexec is not None:
            preexec()

    proc = await asyncio.create_subprocess_exec(
        python, "-c", BOOTSTRAP, WORKER_DIR,
        stdin=asyncio.subprocess.PIPE, stdout=out_w, stderr=err_w,
        pass_fds=(result_w,), start_new_session=True,
        cwd=app_path, env=worker_env(tag), preexec_fn=child_setup,
    )
    for fd in write_fds:
        os.close(fd)
    return proc


async def kill_and_reap(proc: asyncio.subprocess.Process, tag: str) -> None:
    """Kill the worker's process group and every process tagged with its run, wait for the
    worker, and reap the orphans (briefly, in a thread, off the event loop)."""
    group = [pid for pid in reaper.group_members(proc.pid) if pid != proc.pid]
    _kill_group(proc.pid)
    killed = group + reaper.kill_tagged(tag)
    with contextlib.suppress(ProcessLookupError):
        await proc.wait()
    if killed:
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: reaper.reap_orphans(keep=(proc.pid,), expect=killed))


async def run_worker(
    python: str,
    config: dict[str, Any],
    timeout_s: float,
    *,
    tail_bytes: int = DEFAULT_TAIL_BYTES,
    preexec: Callable[[], None] | None = None,
) -> WorkerRun:
    """Run one worker to completion or to its timeout; never raises for the app's faults.

    The worker's stdout and stderr are pipes of our own, not asyncio's subprocess pipes:
    asyncio's ``Process.wait()`` (3.8-3.11) also waits for those pipes to close, and a child
    the app daemonized keeps them open, so a finished worker looked like a timeout.
    """
    started = time.monotonic()
    tag = uuid.uuid4().hex
    fds = [_pipe(), _pipe(), _pipe()]  # result, stdout, stderr
    (result_r, result_w), (out_r, out_w), (err_r, err_w) = fds
    # the deadline is absolute so the worker can dump its stack before *our* clock runs out,
    # however long its interpreter took to start
    config = dict(config, result_fd=result_w, timeout_s=timeout_s,
                  deadline=time.time() + timeout_s)
    try:
        proc = await spawn(python, config["app_path"], tag, (result_w, out_w, err_w), preexec)
    except OSError as exc:
        for fd in (result_r, result_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        return WorkerRun("spawn_failed", None, time.monotonic() - started,
                         error=f"{type(exc).__name__}: {exc.strerror or exc}")

    run = WorkerRun("ok", None, 0.0, stdout=Tail(tail_bytes), stderr=Tail(tail_bytes))
    transports: list[asyncio.BaseTransport] = []
    pending_fds = [result_r, out_r, err_r]
    readers: list[asyncio.Future[Any]] = []
    done = asyncio.Event()
    # From here on, whatever happens (timeout, cancellation by SIGTERM), the finally kills
    # the group and everything tagged, and closes our ends of the pipes.
    try:
        loop = asyncio.get_running_loop()
        result_reader = asyncio.StreamReader(limit=RESULT_LINE_LIMIT)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(result_reader), os.fdopen(result_r, "rb", 0))
        transports.append(transport)
        pending_fds.remove(result_r)
        readers.append(asyncio.ensure_future(_read_events(result_reader, run.events, done)))
        for fd, tail in ((out_r, run.stdout), (err_r, run.stderr)):
            collect = _Collect(tail)
            transport, _ = await loop.connect_read_pipe(lambda c=collect: c,  # type: ignore[misc]
                                                        os.fdopen(fd, "rb", 0))
            transports.append(transport)
            pending_fds.remove(fd)
            readers.append(collect.closed)

        async def feed_and_wait() -> None:
            # writing the config counts against the timeout too: a worker that never
            # reads its stdin must not hang the cycle on a full pipe
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(json.dumps(config).encode())
                await proc.stdin.drain()
                proc.stdin.close()
            exited = asyncio.ensure_future(proc.wait())
            finished = asyncio.ensure_future(done.wait())
            try:
                await asyncio.wait({exited, finished}, return_when=asyncio.FIRST_COMPLETED)
                if not exited.done():  # said done: a moment to exit, then it is killed
                    await asyncio.wait({exited}, timeout=DONE_GRACE_S)
            finally:
                finished.cancel()
                if not exited.done():
                    exited.cancel()

        try:
            await asyncio.wait_for(feed_and_wait(), timeout_s)
        except asyncio.TimeoutError:
            run.outcome = "timeout"
    finally:
        # Also reaps what the app spawned and left holding our pipes.
        await kill_and_reap(proc, tag)
        if readers:  # what the killed processes wrote last, briefly; never their pipes' EOF
            _, still = await asyncio.wait(readers, timeout=0.2 if done.is_set() else 1.0)
            for task in still:
                task.cancel()
        for pipe in transports:
            pipe.close()
        for fd in pending_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
    run.returncode = proc.returncode
    run.duration_s = time.monotonic() - started
    if run.outcome != "timeout":
        if any(e.get("event") == protocol.DONE for e in run.events):
            run.outcome = "ok"
        elif proc.returncode is not None and proc.returncode < 0:
            run.outcome = "crashed"
        elif proc.returncode:
            run.outcome = "exited"
        else:
            run.outcome = "no_result"
    return run
