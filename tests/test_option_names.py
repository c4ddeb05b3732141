"""Every `--flag` and `SIDECAR_*` variable that a finding's title or hint, the docs or the README
names is one the sidecar has (a hint named SIDECAR_DRIFT_EXCLUDE, which never existed)."""

from __future__ import annotations

import argparse
import re

import pytest

from sidecar.cli.main import build_parser
from sidecar.findings.registry import CATALOG
from sidecar.settings import OPTIONS
from tests.support.helpers import ROOT, declared_raw

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
VARIABLE = re.compile(r"(?<![A-Za-z0-9_])SIDECAR_[A-Z0-9_]*[A-Z0-9]")

# flags of other tools, in commands the docs quote
OTHER_TOOLS = {
    "--autogenerate": "alembic revision --autogenerate",
    "--build": "docker compose up --build",
    "--wait": "docker compose up --wait",
    "--build-arg": "docker build --build-arg",
    "--from-literal": "kubectl create secret generic --from-literal",
    "--flag": "docs/reliability.md: `--flag=value`, standing for any option",
    "--connect": "the mariadb image's healthcheck.sh --connect",
    "--innodb": "the mariadb image's healthcheck.sh --innodb_initialized",
    "--multidb": "flask db init --multidb (Flask-Migrate)",
}
# variables that are not options, and the file that reads or defines each
DOCUMENTED = {
    "SIDECAR_TOKEN": "sidecar/settings.py",  # the token itself, instead of --token-file
    # further databases as NAME=URL (NAME=PATH) entries, beside --database-url (--alembic-ini)
    "SIDECAR_DATABASE_URLS": "sidecar/settings.py",
    "SIDECAR_ALEMBIC_INIS": "sidecar/settings.py",
    "SIDECAR_TEST_VENVS": "tests/conftest.py",  # where the suite caches its test venvs
    "SIDECAR_SOAK_CYCLES": "tests/reliability/test_soak.py",
    "SIDECAR_USER": "Dockerfile.sidecar",
    "SIDECAR_SOURCE": "compose.override.yml",
    "SIDECAR_BASE_IMAGE": "compose.override.yml",
    "SIDECAR_PUBLISH": "compose.override.yml",
}


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    flags = {f for action in parser._actions for f in action.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                flags |= _flags(command)
    return flags


REAL_FLAGS = _flags(build_parser()) | {opt.flag for opt in OPTIONS}
# `sidecar probe` reads its variables in sidecar/cli/main.py itself
REAL_VARIABLES = {var for opt in OPTIONS for var in opt.env} | set(
    VARIABLE.findall((ROOT / "sidecar" / "cli" / "main.py").read_text()))


def _catalog_texts() -> dict[str, str]:
    """Titles and hints (every wording: the family modules' source), and rendered hints."""
    texts = {f"{code} title": entry.title for code, entry in CATALOG.items()}
    texts.update({f"{code} hint": entry.render_hint(declared_raw(entry))
                  for code, entry in CATALOG.items()})
    for path in sorted((ROOT / "sidecar" / "findings" / "codes").glob("*.py")):
        texts[str(path.relative_to(ROOT))] = path.read_text()
    return texts


def _doc_texts() -> dict[str, str]:
    pages = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    return {str(p.relative_to(ROOT)): p.read_text() for p in pages}


TEXTS = {**_catalog_texts(), **_doc_texts()}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_named_options_exist(name: str) -> None:
    text = TEXTS[name]
    unknown_flags = set(FLAG.findall(text)) - REAL_FLAGS - set(OTHER_TOOLS)
    unknown_vars = set(VARIABLE.findall(text)) - REAL_VARIABLES - set(DOCUMENTED)
    assert not unknown_flags and not unknown_vars, (name, unknown_flags, unknown_vars)


@pytest.mark.parametrize("variable", sorted(DOCUMENTED))
def test_documented_variables_are_really_used(variable: str) -> None:
    assert variable in (ROOT / DOCUMENTED[variable]).read_text()


def test_the_check_catches_a_made_up_option() -> None:
    text = "exclude it with --drift-exclude (SIDECAR_DRIFT_EXCLUDE)"
    assert set(FLAG.findall(text)) - REAL_FLAGS == {"--drift-exclude"}
    assert set(VARIABLE.findall(text)) - REAL_VARIABLES == {"SIDECAR_DRIFT_EXCLUDE"}
