"""`sidecar probe`: a HEALTHCHECK for images without curl — standard library only.

Docker keeps the last 5 probe outputs (4 KiB each) in `docker inspect`, so what we print
is written to be the diagnosis: failing checks first, then the first fix.
"""

from __future__ import annotations

import http.client
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

LIMIT = 4096


def _get(url: str, timeout: float, accept: str = "text/plain") -> tuple[int, str]:
    headers = {"Accept": accept, "User-Agent": "sidecar-probe"}
    token = _token()
    if token:  # the probe runs beside the daemon and may read what on-call reads
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(64 * 1024).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(64 * 1024).decode("utf-8", "replace")


def _token() -> str | None:
    import os

    from sidecar.settings import read_token

    try:
        return read_token(os.environ)
    except (OSError, ValueError):
        return None  # best effort: the daemon said what is wrong with its token file


def _hint(base: str, timeout: float) -> str | None:
    """The first blocking finding's fix, from /diagnose (best effort: it may need a token)."""
    try:
        _status, body = _get(urllib.parse.urljoin(base, "/diagnose?format=json"), timeout,
                            "application/json")
        report = json.loads(body)
    except (OSError, ValueError, urllib.error.URLError, http.client.HTTPException):
        return None
    if not isinstance(report, dict):
        return None
    for check in report.get("checks") or []:
        for f in check.get("findings") or []:
            if f.get("severity") == "error" and f.get("hint"):
                sql = f"\nsql: {f['fix_sql']}" if f.get("fix_sql") else ""
                return f"fix ({f.get('code')}): {f['hint']}{sql}"
    return None


def summarize(status: int, body: str, hint: str | None) -> str:
    lines = [line for line in body.splitlines() if line.strip()]
    failing = [line for line in lines if line.startswith("[-]")]
    rest = [line for line in lines if not line.startswith("[-]")]
    head = "ready" if status == 200 else f"NOT READY (HTTP {status})"
    text = "\n".join([head, *failing, *([hint] if hint else []), *rest])
    data = text.encode()
    if len(data) > LIMIT:
        text = data[: LIMIT - 4].decode("utf-8", "ignore") + "\n..."
    return text


def probe(url: str, timeout: float) -> int:
    try:
        parsed = urllib.parse.urlsplit(url)
    except ValueError as exc:  # 'http://[::1/readyz': Invalid IPv6 URL
        sys.stderr.write(f"sidecar probe: error: {url!r} is not a valid URL: {exc}\n")
        return 2
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        sys.stderr.write(f"sidecar probe: error: {url!r} is not an http(s) URL\n")
        return 2
    try:
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        sys.stderr.write(f"sidecar probe: error: {url!r} has an invalid port\n")
        return 2
    try:
        status, body = _get(url, timeout)
    except (TimeoutError, urllib.error.URLError, OSError, http.client.HTTPException,
            ValueError) as exc:
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        sys.stdout.write(f"NOT READY: cannot reach {url}: {reason}\n")
        return 1
    hint = _hint(url, timeout) if status != 200 else None
    sys.stdout.write(summarize(status, body, hint) + "\n")
    return 0 if status == 200 else 1
