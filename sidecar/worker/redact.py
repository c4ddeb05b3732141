"""Credentials never leave the sidecar: every string shown to anyone passes through here.

One module for both sides (so one rule): the worker scrubs what the checks emit (drivers quote
connection strings in their errors: psycopg2 echoes a malformed DSN, SQLAlchemy the URL it
could not parse), the daemon what it adds (the app's output, runner faults) and shows. It is
part of the worker, so standard library only and Python 3.8 syntax; the daemon imports it as
``sidecar.worker.redact``.

What is masked, in this order:
1. every printed form of a known secret (raw, percent-encoded both ways, repr- and
   JSON-escaped, of the secret and of its percent-decoding), 3 characters or longer. Known
   secrets go first: once a pattern has masked part of one (a raw password with an '@' or a
   space), the rest would no longer match verbatim;
2. the password of anything URL-shaped (``scheme://user:password@``), up to the *last* '@'
   of the whitespace-delimited token: an app printing its URL unquoted
   (``postgresql://app:p@ss@db/x``) must not leak the part after the first '@';
3. the value of every ``password=`` (also passwd, pwd, sslpassword, PGPASSWORD, ``*secret*``,
   ``*token*``; ``=`` also percent-encoded, as inside ``?dsn=``) in libpq DSNs, query
   strings and key=value text: quoted (backslash escapes allowed, as in libpq) or bare up to
   whitespace, '&', ';' or ',' (not ')': a password may contain one).
``config_secrets`` learns the secrets a configuration carries before anything is shown.
``scrub`` applies this to every string of a JSON-like value, dict keys included.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple
from urllib.parse import quote, quote_plus, unquote

MASK = "***"
# Shorter forms are left to the patterns: masking every "ab" in every message would make the
# messages unreadable without protecting anything.
MIN_SECRET = 3

# The scheme is matched from the start of its run of scheme characters only: trying every
# position inside a long word again would take quadratic time.
_URL_USERINFO = re.compile(r"(?<![\w+.-])[\w+.-]+://[^:/@\s]*:(?P<value>\S*)@")
# password, sslpassword, PGPASSWORD, client_secret, api_token, ...: in key=value text, query
# strings, and percent-encoded inside another value (``?dsn=...password%3D...``)
_PASSWORD_KEY = re.compile(
    r"\b(?:\w*password|passwd|pwd|\w*secret\w*|\w*token)\s*(?:=|%3D)\s*", re.I)
_SECRET_QUERY_KEY = re.compile(r"password|passwd|pwd|secret|token", re.I)
# quoted with backslash escapes (libpq), or without (a value ending in a backslash), or bare
_PASSWORD_VALUE = re.compile(r"(?P<quoted>'(?:[^'\\]|\\.)*'|'[^']*'|\"[^\"]*\")|[^\s&;,]+")


def secret_forms(secret: Any) -> List[str]:
    """A secret as it may be printed, longest first (so a longer form is masked whole)."""
    if secret is None or secret == "":
        return []
    forms: Set[str] = set()
    for raw in {str(secret), unquote(str(secret))}:
        forms.update((raw, quote(raw, safe=""), quote_plus(raw), repr(raw)[1:-1],
                      json.dumps(raw)[1:-1]))
    return sorted((f for f in forms if len(f) >= MIN_SECRET), key=len, reverse=True)


def url_password(url_text: Any) -> Optional[str]:
    """The password in a URL as written there, found without SQLAlchemy (which may not parse
    the URL, and is not the daemon's to import)."""
    if not isinstance(url_text, str):
        return None
    m = _URL_USERINFO.search(url_text)
    return (m["value"] or None) if m else None


def config_secrets(url_text: Any, environ: Optional[Dict[str, str]] = None) -> List[str]:
    """Every secret the configuration carries, so its every printed form is masked: the URL's
    userinfo password, the value of each query key that names a secret (``password``,
    ``sslpassword``, ``*secret*``, ``*token*``), a password inside ``?dsn=``, and PGPASSWORD
    (libpq's, which the app's own connections may print)."""
    found: List[str] = [url_password(url_text) or ""]
    if isinstance(url_text, str) and "?" in url_text:
        from urllib.parse import parse_qsl

        for key, value in parse_qsl(url_text.split("?", 1)[1], keep_blank_values=True):
            if _SECRET_QUERY_KEY.search(key):
                found.append(value)
            elif key.lower() == "dsn":
                for start, end in _password_values(value):
                    found.append(value[start:end].strip("'\""))
    found.append((environ or {}).get("PGPASSWORD", ""))
    return sorted({f for f in found if f}, key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[Any] = ()) -> str:
    """``text`` with known secrets and anything password-shaped masked."""
    return _mask(text, _all_forms(secrets))


def scrub(value: Any, secrets: Iterable[Any] = ()) -> Any:
    """``redact_text`` applied to every string inside dicts, lists and tuples (keys too)."""
    return _scrub(value, _all_forms(secrets))


def _all_forms(secrets: Iterable[Any]) -> List[str]:
    forms = {form for secret in secrets for form in secret_forms(secret)}
    return sorted(forms, key=len, reverse=True)


def _scrub(value: Any, forms: List[str]) -> Any:
    if isinstance(value, str):
        return _mask(value, forms)
    if isinstance(value, dict):
        return {_scrub(k, forms): _scrub(v, forms) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v, forms) for v in value)
    return value


def _mask(text: str, forms: List[str]) -> str:
    for form in forms:
        text = text.replace(form, MASK)
    text = _mask_spans(text, [m.span("value") for m in _URL_USERINFO.finditer(text)])
    return _mask_spans(text, list(_password_values(text)))


def _password_values(text: str) -> Iterator[Tuple[int, int]]:
    """(start, end) of the value after every password key, also of a key inside another's
    value, whose own value may run past it (``PGPASSWORD= password="a b"``)."""
    bare = (0, 0)  # a bare value starting inside the last bare one ends where that one ends
    for key in _PASSWORD_KEY.finditer(text):
        start = key.end()
        if bare[0] <= start < bare[1] and text[start] not in "'\"":
            continue
        value = _PASSWORD_VALUE.match(text, start)
        if value:
            yield value.span()
            if value["quoted"] is None:
                bare = value.span()


def _mask_spans(text: str, spans: List[Tuple[int, int]]) -> str:
    """Each span replaced by MASK, overlapping spans merged."""
    out, done = [], 0
    for start, end in sorted(spans):
        if start < done:  # inside the span just masked
            done = max(done, end)
            continue
        out += [text[done:start], MASK]
        done = end
    return "".join(out) + text[done:]


def unexpected(code: str, what: str, exc: BaseException, secrets: Iterable[str]) -> Dict[str, Any]:
    """A check's own failure as one redacted finding (never a traceback with the URL in it):
    ``code`` when SQLAlchemy, Alembic or the driver raised, SIDE008 (sidecar's bug, with its
    file:line) when the innermost frame is the worker's own code."""
    from . import versions

    detail = redact_text(" ".join(str(exc).split())[:500], secrets)
    where = versions.worker_frame(exc)
    if where is not None:
        return {"findings": [versions.internal_error(exc, where, detail)], "observed": {}}
    return {"findings": [{"code": code, "message": f"{what}: {type(exc).__name__}: {detail}",
                          "exception": type(exc).__name__, "facts": {"detail": detail}}],
            "observed": {}}


def guarded(run: Any, code: str, what: str, secrets: Iterable[str]) -> Dict[str, Any]:
    """Run a database-facing check body: redact what it says, turn a crash into ``code``.

    ``run()`` returns the check outcome or raises ``Skip``; both come back scrubbed of the
    password, however the driver quoted it.
    """
    from .context import Skip

    try:
        outcome = run()
    except Skip as exc:
        raise Skip(redact_text(str(exc), secrets)) from None
    except Exception as exc:
        return unexpected(code, what, exc, secrets)
    return scrub(outcome, secrets)
