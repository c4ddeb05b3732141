"""Configure every mapper and report each independent failure, located.

``configure_mappers()`` stops at the first mapper whose configuration raises, and every
later call re-raises "One or more mappers failed to initialize". A package with two broken
relationships would be fixed, redeployed and crash again. So after a failure we classify the
original exception, let SQLAlchemy go on past the failing property (``compat.resume_after``)
or, where that cannot be done, past the whole mapper (``compat.skip_mappers``), and
configure again, until everything configured or nothing new fails.

The same root cause seen from two places is one finding: a relationship that fails because
its other side (``back_populates``/``backref``) already failed is folded into that finding
as a ``related`` location.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from ... import compat
from ...source import locate, origins
from . import classify
from .capture import WarningRecorder

Raw = Dict[str, Any]

# more failures than this in one package: report these, the rest after they are fixed
MAX_FAILURES = 50


class Outcome:
    def __init__(self) -> None:
        self.findings: List[Raw] = []  # exception and warning findings, in order
        self.errors: List[Raw] = []  # the exceptions' findings, in the order they were raised
        self.configured = True  # False when any mapper failed
        self.failures = 0  # configure attempts that raised
        self.complete = True  # False when we had to give up before all were tried


def configure_all(locator: locate.Locator, target: str = "configure_mappers()") -> Outcome:
    from sqlalchemy.orm import configure_mappers

    out = Outcome()
    skipped: Set[int] = set()
    failed_props: Dict[int, Raw] = {}  # id(prop) -> its finding
    seen: Set[Tuple[int, int]] = set()
    failed: List[Tuple[Any, BaseException]] = []  # (mapper skipped, its error)
    remove_listener = compat.skip_mappers(skipped)
    try:
        for _ in range(MAX_FAILURES + 1):
            with WarningRecorder() as recorder:
                try:
                    configure_mappers()
                    error: Optional[BaseException] = None
                except Exception as exc:
                    error = exc
            for w in recorder.take():
                raw = classify.from_warning(w, "configure", target, locator)
                if raw is not None:
                    out.findings.append(raw)
            if error is None:
                break
            out.configured = False
            out.failures += 1
            failure = compat.configure_failure(error)
            raw = classify.from_exception(failure.exception, "configure", target, locator)
            _record(out, raw, failure, failed_props, locator)
            key = (id(failure.mapper), id(failure.prop))
            if failure.mapper is None or key in seen or out.failures > MAX_FAILURES:
                out.complete = False
                break
            seen.add(key)
            if not compat.resume_after(failure):
                if id(failure.mapper) in skipped:
                    out.complete = False
                    break
                skipped.add(id(failure.mapper))
                failed.append((failure.mapper, failure.exception))
    finally:
        remove_listener()
        for mapper, why in failed:  # as configure_mappers() alone would have left them
            compat.mark_failed(mapper, why)
    return out


def _record(out: Outcome, raw: Raw, failure: compat.ConfigureFailure,
            failed_props: Dict[int, Raw], locator: locate.Locator) -> None:
    prop = failure.prop
    other = compat.reverse_property(prop) if prop is not None else None
    first = failed_props.get(id(other)) if other is not None else None
    if first is not None and first is not raw:
        # its other side failed first: the same mistake, seen from here
        where = origins.locate(prop)
        if where is not None and locator.is_user_file(where[0]):
            classify.add_related(first, locator.relative(where[0]), where[1],
                        "the other side, %s.%s, fails with it (%s)" % (
                            prop.parent.class_.__name__, prop.key, raw["code"]))
        failed_props[id(prop)] = first
        return
    if prop is not None:
        failed_props[id(prop)] = raw
    out.findings.append(raw)
    out.errors.append(raw)
