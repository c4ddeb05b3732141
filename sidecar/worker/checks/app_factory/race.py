"""Call the getter from several threads released at once, with the race made certain.

The threads start together from one barrier. For the time of the test, the builder the
getter calls (the --app-factory, or the first call of the getter's build statement) is
replaced where the getter finds it by a gate: a wrapper that holds each thread until
``threads`` of them are inside. A getter without a lock lets them all in, so they build at
once in every run, whatever the scheduler does. A locked getter lets one in: the gate lets it
build alone once each other thread is provably stuck — its getter frame at one of the
getter's ``with <lock>:`` lines while that lock is held (``blocked``) — or after ``wait_s``,
and the others then return its app (a pass, not a hang). The originals are put back
afterwards.

Each thread's getter frame is caught by a trace function of that thread alone, removed at the
getter's first call. ``sys._current_frames()`` would be simpler, and can deadlock CPython
3.11: it allocates frame objects under the runtime's head lock, and a garbage collection
there that clears a ``threading.local`` takes the same lock.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
import types
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ..models.capture import CapturedWarning, WarningRecorder

THREADS = 4  # a warm-up thread and the server's first requests
WAIT_S = 2.0  # the longest a lone builder waits for the others (when no lock explains it)
POLL_S = 0.005

Patch = Tuple[Any, str]  # (a module, a class or a globals dict, the name to replace)
Blocked = Callable[[Any], bool]  # is this getter frame waiting on a held lock of its own?


class Gate:
    """Holds the threads that reach the builder until all ``parties`` have, or until the
    ones still outside cannot come (``settled``) or ``wait_s`` has passed."""

    def __init__(self, parties: int, wait_s: float,
                 settled: Callable[[Set[int]], bool]) -> None:
        self.parties = parties
        self.wait_s = wait_s
        self.settled = settled
        self.entered: List[int] = []  # the threads that went in to build, in order
        self._cond = threading.Condition()
        self._open = False  # all came: they build at once
        self._given_up = False  # not all will come: each builds as it comes, as in the app

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def build(*args: Any, **kwargs: Any) -> Any:
            self._hold()
            return original(*args, **kwargs)

        if isinstance(original, types.FunctionType):
            build = functools.wraps(original)(build)
        return build

    def _hold(self) -> None:
        with self._cond:
            me = threading.get_ident()
            if me in self.entered:  # a nested builder of the same thread: held once
                return
            self.entered.append(me)
            if len(self.entered) >= self.parties:
                self._open = True
                self._cond.notify_all()
            deadline = time.monotonic() + self.wait_s
            while not (self._open or self._given_up):
                left = deadline - time.monotonic()
                if left <= 0 or self.settled(set(self.entered)):
                    self._given_up = True
                    self._cond.notify_all()
                    break
                self._cond.wait(min(POLL_S, left))


class _Frames:
    """Each racing thread's getter frame, caught at its call by a one-shot trace function
    of that thread (no tracing before or after)."""

    def __init__(self, filename: Optional[str], name: Optional[str]) -> None:
        self.filename, self.name = filename, name
        self.frames: Dict[int, Any] = {}
        self.done: Set[int] = set()

    def watch(self) -> None:
        if self.filename is not None:
            sys.settrace(self._trace)

    def _trace(self, frame: Any, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_name == self.name and code.co_filename == self.filename:
            self.frames[threading.get_ident()] = frame
            sys.settrace(None)


class Race:
    """What the threads did."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.builds = 0  # threads that called the builder
        self.values: List[Any] = []  # what each thread's call returned
        self.errors: List[BaseException] = []
        self.warnings: List[CapturedWarning] = []
        self.forced = False  # a builder was gated: the result is certain, not likely

    @property
    def apps(self) -> int:
        """Distinct objects returned (by identity)."""
        return len({id(value) for value in self.values})


def run(getter: Callable[[], Any], patches: List[Patch], threads: int = THREADS,
        wait_s: float = WAIT_S, blocked: Optional[Blocked] = None,
        code: Tuple[Optional[str], Optional[str]] = (None, None)) -> Race:
    """``threads`` concurrent calls of ``getter`` with ``patches`` gated; ``code``: the
    getter function's (filename, name), whose frames ``blocked`` is asked about."""
    idents: List[int] = []
    seen = _Frames(*code) if blocked is not None else _Frames(None, None)

    def settled(entered: Set[int]) -> bool:
        """Every racing thread outside the gate has returned or waits on a held lock."""
        for ident in idents:
            if ident in entered or ident in seen.done:
                continue
            frame = seen.frames.get(ident)
            if frame is None or blocked is None or not blocked(frame):
                return False
        return True

    gate = Gate(threads, wait_s, settled)
    race = Race(threads)
    applied: List[Tuple[Any, str, Any]] = []
    start = threading.Barrier(threads + 1)
    lock = threading.Lock()

    def call() -> None:
        start.wait()
        seen.watch()
        try:
            value = getter()
        except BaseException as exc:  # the app's exit too: a finding, not our thread's end
            with lock:
                race.errors.append(exc)
            return
        finally:
            sys.settrace(None)
            seen.done.add(threading.get_ident())
        with lock:
            race.values.append(value)

    with WarningRecorder() as recorder:  # the threads' warnings come through it too
        try:
            for owner, name in patches:
                original = _get(owner, name)
                _set(owner, name, gate.wrap(original))
                applied.append((owner, name, original))
            race.forced = bool(applied)
            workers = [threading.Thread(target=call, name="sidecar-race-%d" % (i + 1),
                                        daemon=True) for i in range(threads)]
            for worker in workers:
                worker.start()
                idents.append(worker.ident or 0)
            start.wait()
            for worker in workers:  # a getter that hangs: the worker's --timeout ends it
                worker.join()
        finally:
            for owner, name, original in reversed(applied):
                _set(owner, name, original)
            seen.frames.clear()
    race.warnings = recorder.take()
    race.builds = len(gate.entered)
    return race


def waiting_on_lock(locks: Dict[int, str]) -> Blocked:
    """A ``blocked`` for the getter's frames: at one of its ``with <lock>:`` lines (``locks``:
    line -> the dotted name of the lock), and that lock is held."""

    def blocked(frame: Any) -> bool:
        name = locks.get(frame.f_lineno)
        if name is None:
            return False
        first, *rest = name.split(".")
        obj = frame.f_locals.get(first, frame.f_globals.get(first))
        for part in rest:
            obj = getattr(obj, part, None)
        locked = getattr(obj, "locked", None)
        try:
            return bool(callable(locked) and locked())
        except Exception:  # an odd object of the app's: wait the whole time instead
            return False

    return blocked


def _get(owner: Any, name: str) -> Any:
    return owner[name] if isinstance(owner, dict) else getattr(owner, name)


def _set(owner: Any, name: str, value: Any) -> None:
    if isinstance(owner, dict):
        owner[name] = value
    else:
        setattr(owner, name, value)
