"""HTTP endpoints, all answered from cached state: a probe never runs a check.

Routes derive from the check names in the Report (Kubernetes healthz style): no handler
knows a check by name; ``/readyz/<check>``, ``?verbose`` and ``?exclude=`` fall out of the
list.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from sidecar.daemon.metrics import exposition
from sidecar.daemon.scheduler import Scheduler
from sidecar.daemon.state import DaemonState
from sidecar.findings.model import CheckResult
from sidecar.render.web import (
    Meta,
    as_health,
    as_html,
    as_json,
    as_text,
)

log = logging.getLogger("sidecar")

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
FORMATS = ("text", "json", "html", "health")
STATE_KEY = web.AppKey("state", DaemonState)
SCHEDULER_KEY = web.AppKey("scheduler", Scheduler)
TOKEN_KEY = web.AppKey("token", str)
METRICS_CACHE_KEY = web.AppKey("metrics_cache", dict)
WITHHELD = "reason withheld"


def authorized(request: web.Request) -> bool:
    """No token configured, or the right bearer token (compared in constant time, as bytes).

    aiohttp decodes header bytes that are not UTF-8 with surrogateescape, so a client can send
    any byte: "surrogatepass" turns every str back into bytes without raising
    (hmac.compare_digest on str refuses non-ASCII: a 500 before this).
    """
    token = request.app.get(TOKEN_KEY)
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"),
                               token.encode("utf-8"))


def _unauthorized() -> web.Response:
    # a browser cannot send a bearer header: say how to read it anyway
    return _text("unauthorized: this endpoint needs 'Authorization: Bearer <token>'\n"
                 "e.g. curl -H \"Authorization: Bearer $SIDECAR_TOKEN\" "
                 "'http://<host>:<port>/diagnose?format=html' > diagnose.html\n", 401,
                 **{"WWW-Authenticate": 'Bearer realm="sidecar"'})


def protected(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
              ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not authorized(request):
            return _unauthorized()
        return await handler(request)

    guarded.__name__ = handler.__name__
    return guarded


def _text(body: str, status: int = 200, **headers: str) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/plain",
                        headers={**NO_STORE, **headers})


def _reason(check: CheckResult, state: DaemonState, show: bool = True) -> str:
    blocking = state.policy.blocking(check)
    if not blocking:
        return "ok (skipped)" if check.status == "skip" else "ok"
    if not show:  # Kubernetes' healthz: detail is for those who may read /diagnose
        return f"failed: {WITHHELD}"
    f = blocking[0]
    more = f" (+{len(blocking) - 1} more)" if len(blocking) > 1 else ""
    return f"failed: {f.summary()}{more}"


async def livez(request: web.Request) -> web.Response:
    """Alive: the event loop answers and the cycle loop runs; never depends on a check."""
    state = request.app[STATE_KEY]
    if not state.loop_alive and not state.stopping:
        return _text("[-]cycle loop stopped\n", 503)
    return _text("ok\n")


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if state.ready and not state.stopping and not request.query_string:
        return _text("ok\n")  # the hot path of every probe: nothing to compute
    if state.stopping:
        return _text("[-]shutdown in progress\nreadyz check failed\n", 503)
    if state.report is None:
        return _text("[-]first cycle pending\nreadyz check failed\n", 503)
    excluded = request.query.getall("exclude", [])
    checks = state.gating_checks()
    known = {c.name for c in state.report.checks}
    unknown = [name for name in excluded if name not in known]
    selected = [c for c in checks if c.name not in excluded]
    # without exclusions the flap-damped state answers; with them, the selected checks do
    ok = all(state.policy.check_ok(c) for c in selected) if excluded else state.ready
    verbose = "verbose" in request.query
    show = authorized(request)
    lines: list[str] = []
    if verbose or not ok:
        for check in checks:
            if check.name in excluded:
                lines.append(f"[+]{check.name} excluded: ok")
                continue
            mark = "+" if state.policy.check_ok(check) else "-"
            if mark == "+" or verbose:
                lines.append(f"[{mark}]{check.name} {_reason(check, state, show)}")
            else:
                lines.append(f"[-]{check.name} failed")
    for name in unknown:
        lines.append(f"warn: some health checks cannot be excluded: no matches for {name!r}")
    if verbose:
        lines.append(f"result age: {state.age_s() or 0:.1f}s")
    lines.append("readyz check passed" if ok else "readyz check failed")
    if not verbose and ok and not unknown:
        return _text("ok\n")
    return _text("\n".join(lines) + "\n", 200 if ok else 503)


async def readyz_one(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    name = request.match_info["check"]
    if state.report is None:
        return _text(f"[-]{name} pending: first cycle not finished\n", 503)
    check = state.report.check(name)
    if check is None:
        known = ", ".join(c.name for c in state.report.checks)
        return _text(f"no such check {name!r} (known: {known})\n", 404)
    ok = state.policy.check_ok(check)
    mark = "+" if ok else "-"
    return _text(f"[{mark}]{name} {_reason(check, state, authorized(request))}\n",
                 200 if ok else 503)


def _meta(state: DaemonState) -> Meta:
    assert state.report is not None
    return Meta(taken_at=state.report.started_at, age_s=state.age_s() or 0.0,
                ready=state.ready, cycles=state.cycles,
                history=tuple(h.to_dict() for h in state.history))


def _negotiate(request: web.Request) -> str | None:
    fmt = request.query.get("format")
    if fmt is not None:
        return fmt if fmt in FORMATS else None
    accept = request.headers.get("Accept", "")
    if "application/health+json" in accept:
        return "health"
    if "application/json" in accept:
        return "json"
    if "text/html" in accept:
        return "html"
    return "text"


async def diagnose(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    fmt = _negotiate(request)
    if fmt is None:
        return _text(f"unknown format; use one of: {', '.join(FORMATS)}\n", 400)
    if state.report is None:
        body = {"status": "pending", "detail": "the first cycle has not finished"}
        if fmt in ("json", "health"):
            return web.json_response(body, status=503, headers=NO_STORE)
        return _text("pending: the first cycle has not finished\n", 503)
    meta = _meta(state)
    if fmt == "json":
        return web.json_response(as_json(state.report, meta), headers=NO_STORE,
                                 dumps=lambda o: json.dumps(o, indent=2))
    if fmt == "health":
        return web.Response(text=json.dumps(as_health(state.report, meta), indent=2),
                            content_type="application/health+json",
                            status=200 if meta.ready else 503, headers=NO_STORE)
    if fmt == "html":
        return web.Response(text=as_html(state.report, meta), content_type="text/html",
                            headers={**NO_STORE, "Content-Security-Policy":
                                     "default-src 'none'; style-src 'unsafe-inline'"})
    return _text(as_text(state.report, meta))


async def metrics(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    # Every value changes only with the state, so a scrape storm reuses one rendering.
    key = (state.cycles, state.cycle_running, state.ready, state.stopping)
    cached = request.app[METRICS_CACHE_KEY]
    if cached.get("key") != key:
        cached.update(key=key, body=exposition(state))
    return web.Response(body=cached["body"], headers={
        **NO_STORE, "Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def refresh(request: web.Request) -> web.Response:
    accepted, wait = request.app[SCHEDULER_KEY].request_refresh()
    if not accepted:
        return _text(f"refresh rate-limited; retry in {wait:.1f}s\n", 429,
                     **{"Retry-After": str(max(1, int(wait + 0.999)))})
    return _text("refresh scheduled\n", 202)


def build_app(state: DaemonState, scheduler: Scheduler, token: str | None = None,
              metrics_auth: bool = False) -> web.Application:
    # No error middleware: aiohttp already answers an unexpected exception with a bare 500
    # (no traceback unless debug mode) and logs it; a middleware costs every probe ~10%.
    app = web.Application(client_max_size=64 * 1024)
    app[STATE_KEY] = state
    app[SCHEDULER_KEY] = scheduler
    app[METRICS_CACHE_KEY] = {}
    if token:
        app[TOKEN_KEY] = token
    app.router.add_get("/livez", livez)
    app.router.add_get("/healthz", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/readyz/{check}", readyz_one)
    app.router.add_get("/diagnose", protected(diagnose))
    app.router.add_get("/metrics", protected(metrics) if metrics_auth else metrics)
    app.router.add_post("/refresh", protected(refresh))
    return app
