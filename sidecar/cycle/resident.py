"""A resident worker: one process serves many cycles while the model code is unchanged.

A fresh worker imports the models, configures the mappers and runs every check, then, when
the import was clean, stays (still its own process group, same RLIMIT_AS, the app's
interpreter) and waits on its stdin. Each later cycle is one request line; the worker runs
the checks that do not import app code (database, migrations, schema_drift — the drift
fingerprint makes that one catalog query when nothing changed) and says ``done``. The daemon
enforces each request's deadline exactly as for a fresh worker: past it, the whole group is
killed and the cycle is a SIDE001 with the line that hung.

``ResidentPool`` decides when a fresh worker is spawned instead: the model sources changed
(the scheduler's file watch), a check of the resident worker failed or timed out, its RSS
grew past twice what it was after the import, or it served ``--recycle-after`` cycles.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from sidecar.cycle.runner import (
    DEFAULT_TAIL_BYTES,
    DONE_GRACE_S,
    RESULT_LINE_LIMIT,
    Tail,
    WorkerRun,
    _Collect,
    _pipe,
    kill_and_reap,
    memory_limit,
    spawn,
)
from sidecar.worker import protocol, registry

RSS_GROWTH = 2.0  # a resident worker whose RSS doubled since its import is replaced


class ResidentWorker:
    """One live worker process and the pipes to it; each ``cycle`` is one request."""

    def __init__(self, tail_bytes: int = DEFAULT_TAIL_BYTES) -> None:
        self.tail_bytes = tail_bytes
        self.proc: asyncio.subprocess.Process | None = None
        self.tag = uuid.uuid4().hex
        self.events: list[dict[str, Any]] = []
        self.done = asyncio.Event()
        self.hello: dict[str, Any] | None = None
        self.alive = False  # said done with resident: true, and not killed since
        self.rss_kb: int | None = None
        self._collectors: list[_Collect] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._readers: list[asyncio.Future[Any]] = []

    async def start(self, python: str, config: dict[str, Any], timeout_s: float,
                    preexec: Callable[[], None] | None = None,
                    resident: bool = True) -> WorkerRun:
        """Spawn the worker and run its first (full) cycle."""
        started = time.monotonic()
        fds = [_pipe(), _pipe(), _pipe()]  # result, stdout, stderr
        (result_r, result_w), (out_r, out_w), (err_r, err_w) = fds
        try:
            self.proc = await spawn(python, config["app_path"], self.tag,
                                    (result_w, out_w, err_w), preexec)
        except OSError as exc:
            for fd in (result_r, result_w, out_r, out_w, err_r, err_w):
                os.close(fd)
            return WorkerRun("spawn_failed", None, time.monotonic() - started,
                             error=f"{type(exc).__name__}: {exc.strerror or exc}")
        loop = asyncio.get_running_loop()
        result_reader = asyncio.StreamReader(limit=RESULT_LINE_LIMIT)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(result_reader), os.fdopen(result_r, "rb", 0))
        self._transports.append(transport)
        self._readers.append(asyncio.ensure_future(self._read_events(result_reader)))
        for fd in (out_r, err_r):
            collect = _Collect(Tail(self.tail_bytes))
            transport, _ = await loop.connect_read_pipe(lambda c=collect: c,  # type: ignore[misc]
                                                        os.fdopen(fd, "rb", 0))
            self._transports.append(transport)
            self._collectors.append(collect)
            self._readers.append(collect.closed)
        config = dict(config, result_fd=result_w, resident=resident, cycle=0)
        run = await self._cycle(config, timeout_s, started)
        self.hello = run.hello
        return run

    async def cycle(self, request: dict[str, Any], timeout_s: float) -> WorkerRun:
        """A later cycle on the models the worker holds. The run's events start with the
        first cycle's ``hello`` (versions, protocol), as a fresh worker's would."""
        run = await self._cycle(request, timeout_s, time.monotonic())
        if self.hello is not None:
            run.events.insert(0, self.hello)
        return run

    async def _cycle(self, request: dict[str, Any], timeout_s: float,
                     started: float) -> WorkerRun:
        assert self.proc is not None and self.proc.stdin is not None
        run = WorkerRun("ok", None, 0.0, stdout=Tail(self.tail_bytes),
                        stderr=Tail(self.tail_bytes))
        for collect, tail in zip(self._collectors, (run.stdout, run.stderr), strict=False):
            collect.tail = tail  # this cycle's output only
        self.events = run.events
        self.done.clear()
        request = dict(request, timeout_s=timeout_s, deadline=time.time() + timeout_s)
        proc = self.proc

        async def feed_and_wait() -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                await proc.stdin.drain()
            exited = asyncio.ensure_future(proc.wait())
            finished = asyncio.ensure_future(self.done.wait())
            try:
                await asyncio.wait({exited, finished}, return_when=asyncio.FIRST_COMPLETED)
                if not exited.done() and not self._resident_done():
                    await asyncio.wait({exited}, timeout=DONE_GRACE_S)
            finally:
                finished.cancel()
                if not exited.done():
                    exited.cancel()

        try:
            await asyncio.wait_for(feed_and_wait(), timeout_s)
        except asyncio.TimeoutError:
            run.outcome = "timeout"
        except asyncio.CancelledError:
            await self.stop()
            raise
        done = next((e for e in run.events if e.get("event") == protocol.DONE), None)
        if run.outcome == "ok" and done is not None and done.get("resident") \
                and proc.returncode is None:
            self.alive = True
            self.rss_kb = done.get("rss_kb")
        else:
            await self.stop()
            run.returncode = proc.returncode
            if run.outcome != "timeout":
                if done is not None:
                    run.outcome = "ok"
                elif proc.returncode is not None and proc.returncode < 0:
                    run.outcome = "crashed"
                elif proc.returncode:
                    run.outcome = "exited"
                else:
                    run.outcome = "no_result"
        run.duration_s = time.monotonic() - started
        return run

    def _resident_done(self) -> bool:
        done = next((e for e in self.events if e.get("event") == protocol.DONE), None)
        return bool(done and done.get("resident"))

    async def _read_events(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a truncated last line from a killed worker
            self.events.append(event)
            if event.get("event") == protocol.DONE:
                self.done.set()

    async def stop(self) -> None:
        """Kill the worker's group and everything tagged with its run, reap, close pipes."""
        self.alive = False
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        await kill_and_reap(proc, self.tag)
        if self._readers:  # what the killed processes wrote last, briefly
            _, still = await asyncio.wait(self._readers, timeout=0.2)
            for task in still:
                task.cancel()
        for pipe in self._transports:
            pipe.close()
        if proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
        self._readers, self._transports, self._collectors = [], [], []


class ResidentPool:
    """Which worker serves the next cycle: the resident one, or a fresh one (and why)."""

    def __init__(self, recycle_after: int) -> None:
        self.recycle_after = recycle_after
        self.worker: ResidentWorker | None = None
        self.import_checks: list[dict[str, Any]] = []  # models_import, mappers of the import
        self.import_events: list[dict[str, Any]] = []  # their cache events
        self.served = 0  # cycles since the fresh one
        self.base_rss_kb: int | None = None
        self.spawns = 0
        self.resident_cycles = 0
        self.last_reason = "first cycle"
        self._stale: str | None = None

    def invalidate(self, reason: str) -> None:
        """The next cycle starts a fresh worker (e.g. the model sources changed)."""
        self._stale = reason

    def _fresh_reason(self) -> str | None:
        if self.worker is None or not self.worker.alive:
            return "no resident worker"
        if self._stale:
            return self._stale
        if self.served + 1 >= self.recycle_after:
            return f"recycled after {self.recycle_after} cycles"
        rss, base = self.worker.rss_kb, self.base_rss_kb
        if rss and base and rss > base * RSS_GROWTH:
            return f"RSS grew from {base // 1024} to {rss // 1024} MiB"
        return None

    async def run(self, python: str, config: dict[str, Any], timeout_s: float,
                  memory_limit_mb: int | None) -> WorkerRun:
        reason = self._fresh_reason()
        if reason is None:
            assert self.worker is not None
            request = {"cycle": self.served + 1, "checks": config.get("checks"),
                       "cache": config.get("cache") or {}}
            run = await self.worker.cycle(request, timeout_s)
            self.served += 1
            self.resident_cycles += 1
            self.last_reason = "resident"
            # the import's results stand: the models are the ones imported then
            position = 1 if run.events and run.events[0].get("event") == protocol.HELLO else 0
            run.events[position:position] = [*self.import_events,
                                             *({"event": protocol.CHECK, "result": r}
                                               for r in self.import_checks)]
            if run.outcome != "ok":
                await self.close()  # the next cycle imports afresh
            return run
        await self.close()
        self._stale = None
        self.last_reason = reason
        self.spawns += 1
        self.served = 0
        worker = ResidentWorker()
        run = await worker.start(python, config, timeout_s, memory_limit(memory_limit_mb),
                                 resident=self.recycle_after > 1)
        if worker.alive and self.recycle_after > 1:
            self.worker = worker
            self.base_rss_kb = worker.rss_kb
            imports = {c.name for c in registry.CHECKS if c.imports_app_code}
            from sidecar.cycle.diagnosis import import_run_findings  # it imports this module

            self.import_checks = [c for c in run.checks if c.get("name") in imports]
            extra = import_run_findings(run)
            if extra:  # e.g. the import's flood, said again while its models are reused
                first = self.import_checks[0]["name"] if self.import_checks else None
                self.import_checks = [
                    dict(c, findings=[*(c.get("findings") or ()), *extra])
                    if c.get("name") == first else c for c in self.import_checks]
            # with their cache events, and the versions learnt after hello (Alembic's,
            # once the fallback was decided): a later cycle reports the same versions
            self.import_events = [e for e in run.events if e.get("event") == protocol.VERSIONS
                                  or (e.get("event") == protocol.CACHE
                                      and e.get("check") in imports)]
        else:
            await worker.stop()
        return run

    async def settle(self, failed: bool) -> None:
        """After the cycle's report: a failed check means the next cycle starts afresh."""
        if failed:
            await self.close()

    async def close(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            await worker.stop()

