"""When cycles run: now, then quickly with backoff while not ready, then on an interval.

One cycle at a time (a single loop task); a refresh request or a model file change wakes
the loop early — several wake-ups during a running cycle coalesce into one more cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from typing import Any

from sidecar.cycle.diagnosis import cycle
from sidecar.cycle.resident import ResidentPool
from sidecar.daemon.state import DaemonState
from sidecar.findings.model import Report
from sidecar.settings import Settings

log = logging.getLogger("sidecar")

SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__",
             "site-packages", "dist-packages", ".tox", ".mypy_cache", ".pytest_cache"}
WATCH_LIMIT = 20000  # directory entries visited per walk; a bigger tree is not an app
PSEUDO_FS = ("/proc", "/sys", "/dev", "/run")


def source_fingerprint(root: str) -> tuple[int, int, int]:
    """(files, newest mtime, total size) of the app's .py files: cheap change detection.

    Bounded: at most WATCH_LIMIT entries, one filesystem, no /proc or /sys — so an app path
    of ``/`` costs a capped walk, not the whole machine every second.
    """
    count = newest = total = visited = 0
    try:
        device = os.stat(root).st_dev
    except OSError:
        return 0, 0, 0
    stack = [root]
    while stack and visited < WATCH_LIMIT:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        visited += len(entries)
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if (entry.name not in SKIP_DIRS and not entry.name.startswith(".")
                            and entry.path not in PSEUDO_FS
                            and entry.stat(follow_symlinks=False).st_dev == device):
                        stack.append(entry.path)
                elif entry.name.endswith((".py", ".ini")):
                    st = entry.stat()
                    count += 1
                    newest = max(newest, st.st_mtime_ns)
                    total += st.st_size
            except OSError:
                continue
    return count, newest, total


class Scheduler:
    def __init__(self, settings: Settings, state: DaemonState) -> None:
        self.settings = settings
        self.state = state
        self._wake = asyncio.Event()
        self._last_refresh = float("-inf")
        self._retry_delay = settings.retry_min_s
        self._caches: dict[str, Any] = {}  # what each check keeps for its next run
        self._tasks: list[asyncio.Task] = []
        self._last_blocker: tuple[str | None, str] = (None, "")
        self.pool = ResidentPool(settings.recycle_after)  # which worker serves a cycle

    # --- control --------------------------------------------------------------------------

    def start(self) -> None:
        self.state.loop_alive = True
        self._tasks.append(asyncio.ensure_future(self._loop()))
        if self.settings.watch:
            self._tasks.append(asyncio.ensure_future(self._watch()))

    async def stop(self) -> None:
        """Cancel the loop; a running worker's process group is killed by the runner."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pool.close()

    def request_refresh(self) -> tuple[bool, float]:
        """(accepted, seconds until the next refresh would be accepted)."""
        now = time.monotonic()
        wait = self._last_refresh + self.settings.refresh_min_s - now
        if wait > 0:
            return False, wait
        self._last_refresh = now
        self._wake.set()
        return True, 0.0

    # --- loop -----------------------------------------------------------------------------

    def next_delay(self) -> float:
        """The interval (±10% jitter) when ready; exponential backoff while not ready."""
        if self.state.ready:
            self._retry_delay = self.settings.retry_min_s
            return self.settings.interval_s * random.uniform(0.9, 1.1)
        delay = self._retry_delay * random.uniform(0.9, 1.1)
        self._retry_delay = min(self._retry_delay * 2, self.settings.retry_max_s)
        return delay

    async def _loop(self) -> None:
        try:
            while not self.state.stopping:
                self._wake.clear()
                try:
                    await self.run_cycle()
                except Exception:  # a sidecar bug or exhausted fds: say so, keep cycling
                    log.exception("cycle failed", extra={"event": "cycle_error"})
                    self.state.failed_cycles += 1
                    self.state.ready = False
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.next_delay())
        finally:
            # /livez and sidecar_up read this: a loop that ended is not a live daemon
            self.state.loop_alive = False

    async def run_cycle(self) -> Report:
        self.state.cycle_running = True
        try:
            # e.g. the last full schema comparison: reused while the fingerprint holds
            extra = {"cache": dict(self._caches)} if self._caches else None
            report, run = await cycle(self.settings, extra_config=extra, pool=self.pool)
        finally:
            self.state.cycle_running = False
        self._caches.update(run.caches)  # a check that kept nothing keeps its last cache
        self.state.worker_spawns = self.pool.spawns
        self.state.resident_cycles = self.pool.resident_cycles
        was_ready, is_ready = self.state.record(report, run.outcome)
        blocker = self._blocker()
        if was_ready != is_ready or self.state.cycles == 1:
            self._log_transition(was_ready, is_ready)
        elif not is_ready and blocker != self._last_blocker:
            # still not ready, for another reason now (the model got fixed, the migration
            # is next): on-call reading the log needs that line too
            log.warning("still not ready: %s", blocker[1],
                        extra={"event": "not_ready", "ready": False, "code": blocker[0],
                               "reason": blocker[1]})
        self._last_blocker = blocker
        return report

    def _blocker(self) -> tuple[str | None, str]:
        """(code, reason) of the first finding that keeps the daemon not ready."""
        blocking = self.state.blocking_findings()
        if not blocking:
            return None, "no result"
        check, f = blocking[0]
        return f.code, f"{check} failed: {f.summary()}"

    def _log_transition(self, was_ready: bool, is_ready: bool) -> None:
        before = "ready" if was_ready else "not ready"
        if self.state.cycles == 1 and not was_ready:
            before = "starting"
        if is_ready:
            log.info("%s -> ready", before, extra={"event": "ready", "ready": True})
            return
        code, reason = self._blocker()
        log.warning("%s -> not ready: %s", before, reason,
                    extra={"event": "not_ready", "ready": False, "code": code,
                           "reason": reason})

    async def _watch(self, period_s: float = 1.0) -> None:
        root = str(self.settings.app_path)
        last = await asyncio.to_thread(source_fingerprint, root)
        while not self.state.stopping:
            await asyncio.sleep(period_s)
            current = await asyncio.to_thread(source_fingerprint, root)
            if current != last:
                last = current
                log.info("model sources changed; re-checking", extra={"event": "reload"})
                self.pool.invalidate("the model sources changed")
                self._wake.set()
