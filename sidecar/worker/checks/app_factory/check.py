"""The ``app_factory`` check (opt-in): a second app in one process, and two threads asking
for the app at once, as a warm-up thread and the first request do.

1. ``--app-factory``: called, then called again; a model registered again by the second
   call ("Table 'x' is already defined", "... will be replaced in the string-lookup table")
   is SQLA180/SQLA181 at the statement that does it.
2. ``--app-getter``: called from several threads released at once, with its builder gated
   so that the race happens in every run (``race``); more than one build or app, or the
   models run again, is SQLA182 at the getter's ``def`` and the check no lock covers, with
   the getter rewritten as the fix (``shape``).
3. What either raises is classified like an exception of the models' import.

It runs the app's own start-up code: the worker's write guard refuses its writes through
SQLAlchemy (SIDE013), as during the import; whatever else the app starts is the app's.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...context import CheckOutcome, Context, Skip
from ...protocol import finding
from ...source import locate, origins
from ..models.check import Findings
from ..models.classify import add_related
from . import builders, calls, race, reregister, shape, targets

REREGISTERED = ("SQLA180", "SQLA181", "SQLA102", "SQLA103")


def run_app_factory(ctx: Context) -> CheckOutcome:
    factory_spec = ctx.config.get("factory_target")
    getter_spec = ctx.config.get("getter_target")
    if not factory_spec and not getter_spec:
        raise Skip("opt-in: give --app-factory and/or --app-getter (module:callable)")
    if not ctx.import_ok:
        raise Skip(ctx.models_error or "the models did not import")
    given = [spec for spec in (factory_spec, getter_spec) if spec]
    locator = locate.Locator(ctx.app_path, list(ctx.config.get("models") or []) + given)
    out = Findings()
    observed: Dict[str, Any] = {}
    origins.install(locator.is_user_file)  # where the factory's tables are built
    try:
        factory = _factory(ctx, locator, factory_spec, out, observed) if factory_spec \
            else None
        if getter_spec:
            _getter(ctx, locator, getter_spec, factory, out, observed)
    finally:
        origins.uninstall()
    return {"findings": out.items, "observed": observed}


def _factory(ctx: Context, locator: locate.Locator, spec: str, out: Findings,
             observed: Dict[str, Any]) -> Optional[targets.Target]:
    """Call the factory twice; what the calls raise or warn becomes findings."""
    ctx.emit_phase("importing %s" % spec)
    resolved: List[Dict[str, Any]] = []
    target = targets.resolve(spec, "--app-factory", ctx.app_path, locator, resolved)
    for raw in resolved:
        out.add(raw)
    if target is None:
        return None
    apps = []
    for number, which in ((1, "first"), (2, "second")):
        doing = "calling %s() (%s of 2)" % (spec, number)
        ctx.emit_phase(doing)
        outcome = calls.call(target.obj)
        for raw in calls.classify(outcome, spec, locator, ctx.app_path,
                                  target.reproduce(ctx.app_path, number), doing):
            raw["facts"]["call"] = which
            out.add(raw)
        if outcome.error is not None:
            break
        apps.append(outcome.value)
    observed["factory"] = {"target": spec, "returned": len(apps),
                           "same_app_twice": len(apps) == 2 and apps[0] is apps[1]}
    return target


def _getter(ctx: Context, locator: locate.Locator, spec: str,
            factory: Optional[targets.Target], out: Findings,
            observed: Dict[str, Any]) -> None:
    """Call the getter from threads at once: one app, or SQLA182."""
    ctx.emit_phase("importing %s" % spec)
    resolved: List[Dict[str, Any]] = []
    target = targets.resolve(spec, "--app-getter", ctx.app_path, locator, resolved)
    for raw in resolved:
        out.add(raw)
    if target is None:
        return
    found = shape.read(target.obj, locator)
    gated, builder = builders.patches(target.obj, found, factory)
    restore, reset = _reset(target.obj, found)
    before = reregister.snapshot(locator)
    doing = "calling %s() from %d threads at once" % (spec, race.THREADS)
    ctx.emit_phase(doing)
    try:
        result = race.run(
            target.obj, gated, race.THREADS, _wait_s(ctx),
            blocked=race.waiting_on_lock(found.locks()) if found is not None else None,
            code=(found.filename, found.function.name) if found is not None else (None, None))
    finally:
        restore()
    ran_again = reregister.ran_again(before, locator)
    symptoms = _symptoms(result, target, locator, ctx.app_path, doing)
    observed["getter"] = {"target": spec, "threads": result.threads, "builds": result.builds,
                          "apps": result.apps, "forced": result.forced, "builder": builder,
                          "shape": found.kind if found is not None else None,
                          "reset": reset, "ran_again": ran_again}
    raced = result.builds > 1 or result.apps > 1 or bool(ran_again)
    reported = {raw["code"] for raw in out.items}
    for raw in symptoms.items:
        if raw["code"] in REREGISTERED and (raced or reported & {"SQLA180", "SQLA181"}):
            continue  # the race's consequence, or the factory's finding said already
        raw["facts"].setdefault("call", "threaded")
        out.add(raw)
    if raced:
        out.add(_race_finding(spec, target, found, locator, result, builder, ran_again,
                              symptoms.items))


def _symptoms(result: race.Race, target: targets.Target, locator: locate.Locator,
              app_path: str, doing: str) -> Findings:
    """What the threads raised and warned, classified once per code and place."""
    out = Findings()
    outcomes = [calls.Outcome(None, error, []) for error in result.errors]
    for outcome in [*outcomes, calls.Outcome(None, None, result.warnings)]:
        for raw in calls.classify(outcome, target.spec, locator, app_path,
                                  target.reproduce(app_path), doing):
            out.add(raw)
    out.items = reregister.fold(out.items)  # a class's warning and error: one finding
    return out


def _race_finding(spec: str, target: targets.Target, found: Optional[shape.Shape],
                  locator: locate.Locator, result: race.Race, builder: Optional[str],
                  ran_again: List[str], symptoms: List[Dict[str, Any]]) -> Dict[str, Any]:
    facts: Dict[str, Any] = {"getter": spec, "threads": result.threads,
                             "builds": result.builds, "apps": result.apps,
                             "kind": found.kind if found is not None else "unknown"}
    if builder:
        facts["builder"] = builder
    if ran_again:
        facts["ran_again"] = ", ".join(ran_again)
    again = [raw for raw in symptoms if raw["code"] in REREGISTERED]
    if result.errors:
        first = result.errors[0]
        facts["raised"] = ("%s: %s" % (type(first).__name__, first))[:200]
    elif again:
        facts["raised"] = ("%s: %s" % (again[0].get("exception"), again[0]["message"]))[:200]
    where: Dict[str, Any] = {}
    if found is not None:
        facts.update(_shape_facts(found, locator))
        where = {"file": locator.relative(found.filename), "line": found.def_line}
        facts["statement"] = locator.source_line(found.filename, found.def_line)
    else:
        code = getattr(inspect.unwrap(target.obj), "__code__", None)
        if code is not None and locator.is_user_file(code.co_filename):
            where = {"file": locator.relative(code.co_filename), "line": code.co_firstlineno}
    message = ("%s() returned %d distinct apps when %d threads called it at once; %d of the "
               "threads built one" % (spec, result.apps, result.threads, result.builds))
    if ran_again:
        message += "; the models ran again (%s)" % ", ".join(ran_again)
    raw = finding("SQLA182", message, facts=facts, **where)
    if found is not None:
        for node, role in _related(found):
            add_related(raw, locator.relative(found.filename), node.lineno, role)
    return raw


def _shape_facts(found: shape.Shape, locator: locate.Locator) -> Dict[str, Any]:
    facts: Dict[str, Any] = {}
    rel = locator.relative(found.filename)
    for name, node in (("check", found.check), ("lock", found.lock)):
        if node is not None:
            facts["%s_at" % name] = "%s:%d" % (rel, node.lineno)
            facts["%s_text" % name] = found.header(node)
    if found.cache is not None:
        facts["cache_at"] = "%s:%d" % (rel, found.cache.lineno)
        facts["cache_text"] = "@" + found.text(found.cache)
    if found.state:
        facts["state"] = found.state
    code = shape.fixed_code(found)
    if code:
        facts["fixed_code"] = code
    return facts


def _related(found: shape.Shape) -> List[Tuple[Any, str]]:
    out: List[Tuple[Any, str]] = []
    if found.check is not None:
        out.append((found.check, "the check every thread passes before any has built the "
                                 "app" + (", outside the lock" if found.lock is not None
                                          else ": no lock covers it")))
    if found.lock is not None:
        out.append((found.lock, "the lock: each waiting thread builds once it has it, with "
                                "no check inside"))
    if found.cache is not None:
        out.append((found.cache, "the cache does not lock: concurrent first calls all run "
                                 "the function"))
    return out


def _reset(getter: Any, found: Optional[shape.Shape]) -> Tuple[Callable[[], None],
                                                                Optional[str]]:
    """Forget an app the getter built already (at import, say), so its lazy path is what
    the threads test; the value is put back afterwards. (restore, what was reset)"""
    if found is None:
        return (lambda: None), None
    if found.kind == "cached" and hasattr(getter, "cache_clear"):
        getter.cache_clear()
        return (lambda: None), "cache_clear()"
    namespace = getattr(inspect.unwrap(getter), "__globals__", None) or {}
    state = found.state
    if not state or "." in state or namespace.get(state) is None:
        return (lambda: None), None
    kept = namespace[state]
    namespace[state] = None
    return (lambda: namespace.__setitem__(state, kept)), state


def _wait_s(ctx: Context) -> float:
    """The gate's wait: ``race.WAIT_S``, less where the worker's deadline is near."""
    deadline = float(ctx.config.get("deadline") or 0)
    if deadline <= 0:
        return race.WAIT_S
    return max(0.1, min(race.WAIT_S, (deadline - time.time()) / 4))
