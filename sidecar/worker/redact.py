"""Keep database passwords out of everything the worker emits.

Drivers quote connection strings in their errors (psycopg2 echoes a malformed DSN, SQLAlchemy
echoes the URL it could not parse), so every message from the database checks passes through
``scrub`` before it leaves the worker: findings, observed facts and Skip reasons alike.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List
from urllib.parse import quote, quote_plus

MASK = "***"

# user:password@ in anything URL-shaped, even when SQLAlchemy could not parse it
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][\w+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>\S*)@")
# password=... in libpq DSNs and key=value connect strings (quoted or bare)
_KV_PASSWORD = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd)\s*=\s*)(?P<val>'(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^\s&;,)]+)",
    re.I,
)


MIN_SECRET = 4


def secret_forms(password: Any) -> List[str]:
    """The password as it may appear: raw, URL-quoted (both styles), repr-escaped."""
    if password is None:
        return []
    raw = str(password)
    if not raw:
        return []
    forms = {raw, quote(raw, safe=""), quote_plus(raw), repr(raw)[1:-1]}
    # A 1-3 character password would mask every such letter in every message; the URL and
    # password= patterns still catch it where it really stands.
    return sorted((f for f in forms if len(f) >= MIN_SECRET), key=len, reverse=True)


def redact(text: Any, secrets: Iterable[str] = ()) -> Any:
    """Mask known secrets and anything password-shaped in ``text`` (non-strings pass)."""
    if not isinstance(text, str):
        return text
    out = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    out = _KV_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", out)
    for secret in secrets:
        if secret and secret != MASK:
            out = out.replace(secret, MASK)
    return out


def scrub(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``redact`` applied to every string inside dicts, lists and tuples (keys included)."""
    secrets = list(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v, secrets) for v in value)
    return value


def unexpected(code: str, what: str, exc: BaseException, secrets: Iterable[str]) -> Dict[str, Any]:
    """A check's own failure as one redacted finding (never a traceback with the URL in it)."""
    detail = redact(" ".join(str(exc).split())[:500], secrets)
    return {"findings": [{"code": code, "message": f"{what}: {type(exc).__name__}: {detail}",
                          "exception": type(exc).__name__, "facts": {"detail": detail}}],
            "observed": {}}


def url_password(url_text: Any) -> Any:
    """The password in a URL string, found without SQLAlchemy (for URLs it cannot parse)."""
    if not isinstance(url_text, str):
        return None
    m = _URL_USERINFO.search(url_text)
    return m["pw"] if m else None


def guarded(run: Any, code: str, what: str, secrets: Iterable[str]) -> Dict[str, Any]:
    """Run a database-facing check body: redact what it says, turn a crash into ``code``.

    ``run()`` returns the check outcome or raises ``Skip``; both come back scrubbed of the
    password, however the driver quoted it.
    """
    from .context import Skip

    try:
        outcome = run()
    except Skip as exc:
        raise Skip(redact(str(exc), secrets)) from None
    except Exception as exc:
        return unexpected(code, what, exc, secrets)
    return scrub(outcome, secrets)
