"""Credentials never leave the sidecar: every string shown to anyone passes through here."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# scheme://user:password@host  (also inside longer text: logs, driver messages, app output)
_URL_PASSWORD = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s'\"]*:)(?P<pw>[^@\s'\"]+)(?=@)")
# libpq keyword style: password=secret / PGPASSWORD=secret
_KEYWORD_PASSWORD = re.compile(r"(?i)(?P<pre>\b(?:password|passwd|pgpassword|pwd)\s*=\s*)"
                               r"(?P<pw>'[^']*'|\"[^\"]*\"|[^\s&;,]+)")


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask URL passwords, ``password=...`` pairs, and any known secret verbatim."""
    text = _URL_PASSWORD.sub(lambda m: m.group("pre") + MASK, text)
    text = _KEYWORD_PASSWORD.sub(lambda m: m.group("pre") + MASK, text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
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
