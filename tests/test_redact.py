"""The one redaction rule, shared by the worker and the daemon (sidecar/worker/redact.py).

Where the two old modules differed, the stricter rule won: secrets of 3 characters (the
daemon's), every printed form also of the percent-decoded secret, URL passwords up to the
last '@' of the token whatever they contain (the worker's), PGPASSWORD (the daemon's),
backslash escapes in quoted values (the worker's), bare values running past ')' (the
daemon's), dict keys scrubbed too (the worker's), known secrets before the patterns.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.worker import redact as redact_module
from sidecar.worker.redact import MASK, redact_text, scrub, secret_forms, url_password

# --- known secrets: length and printed forms ------------------------------------------------


def test_a_three_character_secret_is_masked_anywhere() -> None:
    assert redact_text("the key xyz was refused, xyz!", ["xyz"]) == (
        "the key *** was refused, ***!")


def test_shorter_secrets_are_left_to_the_patterns() -> None:
    text = "db ab: postgresql://u:ab@h/db password=ab"
    assert redact_text(text, ["ab"]) == "db ab: postgresql://u:***@h/db password=***"


@pytest.mark.parametrize("form", [
    lambda s: s,
    lambda s: quote(s, safe=""),
    lambda s: quote_plus(s),
    lambda s: repr(s)[1:-1],
    lambda s: json.dumps(s)[1:-1],
], ids=["raw", "quote", "quote_plus", "repr", "json"])
def test_every_printed_form_of_a_secret_is_masked(form) -> None:
    secret = "p@ss w/rd+\\\"é'"
    text = f"before {form(secret)} after"
    assert redact_text(text, [secret]) == f"before {MASK} after"


def test_a_percent_encoded_secret_is_masked_decoded_too() -> None:
    """url_password gives the password as the URL writes it; it may be printed decoded."""
    assert redact_text("login p@ss/wd failed", ["p%40ss%2Fwd"]) == "login *** failed"


def test_longest_form_first() -> None:
    assert secret_forms("a b@c")[0] == quote("a b@c", safe="")  # 'a%20b%40c'
    assert redact_text("x a%20b%40c y", ["a b@c"]) == "x *** y"


def test_known_secrets_go_before_the_patterns() -> None:
    """A password with a space: the key=value pattern alone would leave its second half."""
    assert redact_text("password=ab cd host=h", ["ab cd"]) == "password=*** host=h"


def test_no_secret_no_form() -> None:
    assert secret_forms(None) == [] and secret_forms("") == []
    assert redact_text("nothing here", [None, ""]) == "nothing here"


# --- URL userinfo ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
    ("postgresql+psycopg2://app:s3cr3t@db:5432/x?sslmode=require",
     "postgresql+psycopg2://app:***@db:5432/x?sslmode=require"),
    ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
    ("my_driver2://u:pw@h", "my_driver2://u:***@h"),
    # an unquoted '@' in the password: masked up to the last '@' of the token
    ("postgresql://app:p@ss@db/x", "postgresql://app:***@db/x"),
    # quotes inside the password do not end it; whitespace does
    ("postgresql://u:pa'ss\"wd@h/db and more", "postgresql://u:***@h/db and more"),
    ("see 'mysql://u:pw@h/db' and x@y", "see 'mysql://u:***@h/db' and x@y"),
    ("connecting to postgresql://u@h/db", "connecting to postgresql://u@h/db"),  # no password
], ids=["plain", "driver-query", "no-user", "scheme-chars", "raw-at", "quotes", "in-quotes",
        "user-only"])
def test_url_passwords(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_url_password_is_found_as_written() -> None:
    assert url_password("postgresql://u:Secret@pw@db/x") == "Secret@pw"
    assert url_password("postgresql://u:p%40ss@db/x") == "p%40ss"
    assert url_password("postgresql://u:@db/x") is None
    assert url_password("postgresql://u@db/x") is None
    assert url_password(None) is None


# --- key=value ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("host=h password=pw dbname=x", "host=h password=*** dbname=x"),
    ("host=h PASSWORD = pw", "host=h PASSWORD = ***"),
    ("passwd=pw;pwd=pw2,next", "passwd=***;pwd=***,next"),
    ("PGPASSWORD=pw psql", "PGPASSWORD=*** psql"),
    ("?user=u&password=pw&sslmode=require", "?user=u&password=***&sslmode=require"),
    ("password='p w' x", "password=*** x"),
    (r"password='it\'s secret' x", "password=*** x"),
    ('password="p w" x', "password=*** x"),
    # a bare value runs past ')': a password may contain one
    ("connect(password=ab)cd) failed", "connect(password=*** failed"),
], ids=["dsn", "case-and-spaces", "passwd-pwd", "pgpassword", "query", "single-quoted",
        "escaped-quote", "double-quoted", "parenthesis"])
def test_key_value_passwords(text: str, expected: str) -> None:
    assert redact_text(text) == expected


# --- values ---------------------------------------------------------------------------------


def test_scrub_walks_values_and_keys() -> None:
    value = {"url": "postgresql://u:pw@h/db", "hunter22": ["hunter22", ("hunter22", 3)],
             "n": None, "ok": True}
    assert scrub(value, ["hunter22"]) == {"url": "postgresql://u:***@h/db",
                                          MASK: [MASK, (MASK, 3)], "n": None, "ok": True}


def test_standard_library_only() -> None:
    """The daemon imports it and the worker runs it under the app's Python: no third party."""
    tree = ast.parse(Path(redact_module.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


_TRICKY = "ab@:/ '\"\\%+=&;,()é\n"


@settings(max_examples=300, deadline=None)
@given(secret=st.text(_TRICKY, min_size=3, max_size=12),
       before=st.text(_TRICKY + "password=", max_size=20),
       after=st.text(_TRICKY, max_size=20), form=st.integers(0, 4))
def test_no_form_of_a_known_secret_survives(secret: str, before: str, after: str,
                                            form: int) -> None:
    printed = [secret, quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1],
               json.dumps(secret)[1:-1]][form]
    out = redact_text(before + printed + after, [secret])
    for each in secret_forms(secret):
        assert each not in out
