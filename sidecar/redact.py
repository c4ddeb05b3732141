"""Credentials never leave the sidecar: every string shown to anyone passes through here."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# scheme://user:password@host  (also inside longer text: logs, driver messages, app output).
# The password runs to the *last* '@' of the token: an app printing its URL unquoted
# (``postgresql://app:p@ss@db/x``) must not leak the part after the first '@'.
_URL_PASSWORD = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s'\"]*:)(?P<pw>[^\s'\"]+)(?=@)")
# libpq keyword style: password=secret / PGPASSWORD=secret
_KEYWORD_PASSWORD = re.compile(r"(?i)(?P<pre>\b(?:password|passwd|pgpassword|pwd)\s*=\s*)"
                               r"(?P<pw>'[^']*'|\"[^\"]*\"|[^\s&;,]+)")


def secret_forms(secret: str) -> list[str]:
    """A secret as it may be printed: raw, URL-quoted (both styles), repr-escaped."""
    from urllib.parse import quote, quote_plus

    forms = {secret, quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1]}
    return sorted((f for f in forms if len(f) >= 3), key=len, reverse=True)


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask any known secret (in each printed form), URL passwords and ``password=`` pairs.

    Known secrets go first: once a pattern has masked part of one (a raw password with an
    '@' in a URL), the rest would no longer match verbatim.
    """
    for secret in secrets:
        if secret and len(secret) >= 3:
            for form in secret_forms(secret):
                text = text.replace(form, MASK)
    text = _URL_PASSWORD.sub(lambda m: m.group("pre") + MASK, text)
    text = _KEYWORD_PASSWORD.sub(lambda m: m.group("pre") + MASK, text)
    return text


def redact(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """Redact every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, secrets) for v in value)
    return value


def url_password(url: str | None) -> str | None:
    """The password in a database URL, so it can be masked wherever it shows up verbatim."""
    if not url:
        return None
    m = _URL_PASSWORD.search(url)
    if not m:
        return None
    from urllib.parse import unquote

    return unquote(m.group("pw"))
