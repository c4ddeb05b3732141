"""The bearer token is read in one place (settings.read_token): the daemon validates it,
`sidecar probe` sends it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.cli import probe
from sidecar.settings import ConfigError, _token, read_token

TOKEN = "t0ken-0123456789abcdef"


def test_file_named_by_flag_wins(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\n")
    env = {"SIDECAR_TOKEN": "from-the-variable-0123", "SIDECAR_TOKEN_FILE": "/nope"}
    assert read_token(env, str(token_file)) == TOKEN


def test_file_named_by_variable_wins_over_the_token_variable(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    env = {"SIDECAR_TOKEN_FILE": f" {token_file} ", "SIDECAR_TOKEN": "from-the-variable-0123"}
    assert read_token(env) == TOKEN


def test_token_variable_then_nothing(tmp_path: Path) -> None:
    assert read_token({"SIDECAR_TOKEN": f" {TOKEN} "}) == TOKEN
    assert read_token({"SIDECAR_TOKEN": "  ", "SIDECAR_TOKEN_FILE": ""}) is None
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert read_token({}, str(empty)) is None


def test_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_token({}, str(tmp_path / "missing"))


def test_the_daemon_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--token-file: cannot read"):
        _token(str(tmp_path / "missing"), {})
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(ConfigError, match="shorter than 16 characters"):
        _token(str(empty), {})
    with pytest.raises(ConfigError, match="SIDECAR_TOKEN: use at least 16 characters"):
        _token(None, {"SIDECAR_TOKEN": "short"})
    assert _token(None, {}) is None


def test_the_probe_reads_the_same_token(tmp_path: Path, monkeypatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    monkeypatch.setenv("SIDECAR_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("SIDECAR_TOKEN", "from-the-variable-0123")
    assert probe._token() == TOKEN
    monkeypatch.setenv("SIDECAR_TOKEN_FILE", str(tmp_path / "missing"))
    assert probe._token() is None  # best effort, never a traceback in the health log
    monkeypatch.delenv("SIDECAR_TOKEN_FILE")
    assert probe._token() == "from-the-variable-0123"
