"""`sidecar check`: exit codes, one-line usage errors, JSON shape, human output."""

from __future__ import annotations

import pytest

from sidecar.worker import registry
from tests.support.helpers import FIXTURES, run_cli

FINDING_KEYS = {"code", "severity", "title", "message", "exception", "file", "line", "class",
                "attribute", "table", "column", "hint"}


def _assert_one_line_error(result, *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sidecar: error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--app-path", "/no/such/dir", "--models", "app.models"], ["--app-path", "/no/such"]),
        (["--app-path", str(FIXTURES / "good_plain" / "app" / "models.py"), "--models", "x"],
         ["not a directory"]),
        (["--app-path", str(FIXTURES / "good_plain")], ["--models"]),
        (["--app-path", str(FIXTURES / "good_plain"), "--models", "app/models.py"],
         ["--models", "app/models.py"]),
        (["--app-path", str(FIXTURES / "good_plain"), "--models", "app.models:"],
         ["--models"]),
        (["--app-path", str(FIXTURES / "good_plain"), "--models", "app.models", "--timeout",
          "soon"], ["--timeout", "soon"]),
        (["--app-path", str(FIXTURES / "good_plain"), "--models", "app.models", "--timeout",
          "-1"], ["--timeout"]),
        (["--app-path", str(FIXTURES / "good_plain"), "--models", "app.models", "--format",
          "yaml"], ["--format", "yaml"]),
        (["--app-path", str(FIXTURES / "good_plain"), "--models", "app.models", "--python",
          "/no/such/python"], ["--python"]),
        (["--app-path", str(FIXTURES / "good_plain"), "--models", "app.models", "--severity",
          "SQLA101=fatal"], ["--severity"]),
        (["--no-such-flag"], ["--no-such-flag"]),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], words: list[str]) -> None:
    _assert_one_line_error(run_cli("check", *args), *words)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SIDECAR_TIMEOUT": "abc"}, ["SIDECAR_TIMEOUT"]),
        ({"SIDECAR_FORMAT": "xml"}, ["SIDECAR_FORMAT"]),
        ({"SIDECAR_APP_PATH": "/nope"}, ["--app-path"]),
        ({"SIDECAR_MODELS": "app/models.py"}, ["--models"]),
    ],
)
def test_bad_environment_values_exit_2(env: dict[str, str], words: list[str]) -> None:
    base = {"SIDECAR_APP_PATH": str(FIXTURES / "good_plain"), "SIDECAR_MODELS": "app.models"}
    _assert_one_line_error(run_cli("check", env={**base, **env}), *words)


def test_settings_from_environment() -> None:
    result = run_cli("check", env={"SIDECAR_APP_PATH": str(FIXTURES / "good_multi"),
                                   "SIDECAR_MODELS": "app.models.users,app.models.orders",
                                   "SIDECAR_FORMAT": "json"})
    assert result.returncode == 0, result.stdout
    assert result.check("models_import")["observed"]["imported"] == [
        "app.models.users", "app.models.orders"]


def test_flags_win_over_environment() -> None:
    result = run_cli("check", "--format", "json", "--app-path", str(FIXTURES / "good_plain"),
                     env={"SIDECAR_FORMAT": "text", "SIDECAR_MODELS": "app.models"})
    assert result.report["status"] in ("pass", "warn")


def test_json_shape_is_the_documented_one() -> None:
    result = run_cli("check", "--app-path", str(FIXTURES / "reserved_metadata_plain"),
                     "--models", "app.models", "--format", "json")
    report = result.report
    assert set(report) >= {"status", "checks", "started_at", "duration_s", "versions"}
    assert report["status"] == "fail"
    assert [c["name"] for c in report["checks"]] == registry.names()
    for check in report["checks"]:
        assert set(check) >= {"name", "status", "duration_s", "findings"}
        assert check["status"] in ("pass", "warn", "fail", "skip")
        for finding in check["findings"]:
            assert set(finding) >= FINDING_KEYS
    assert report["versions"]["sqlalchemy"]


def test_human_output_names_code_place_object_and_fix() -> None:
    result = run_cli("check", "--app-path", str(FIXTURES / "reserved_metadata_plain"),
                     "--models", "app.models")
    assert result.returncode == 1
    out = result.stdout
    assert "SQLA101" in out
    assert "app/models.py:27" in out
    assert "SecurityEvent.metadata" in out
    assert "fix: " in out and "event_metadata" in out
    assert "\033[" not in out, "no colour when stdout is not a terminal"
    assert out.index("[FAIL] models_import") < out.index("[ok] mappers")


def test_list_checks_prints_every_check_in_run_order() -> None:
    result = run_cli("check", "--list-checks")  # no --models needed: nothing is checked
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == registry.names()
    for line, check in zip(lines, registry.CHECKS, strict=True):
        assert check.description in line


def test_check_runs_only_the_named_checks_and_what_they_need() -> None:
    good = ["check", "--app-path", str(FIXTURES / "good_plain"), "--models", "app.models",
            "--format", "json"]
    result = run_cli(*good, "--check", "migrations", "--check", "mappers")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c["name"] for c in result.report["checks"]] == [
        "models_import", "mappers", "database", "migrations"]  # needs included, in run order
    assert result.check("models_import")["observed"]["imported"] == ["app.models"]
    assert "no database URL" in result.check("database")["reason"]
    alone = run_cli(*good[:-2], env={"SIDECAR_CHECKS": "database"})
    assert alone.stdout.count("\n[") == 1 and "[skip] database" in alone.stdout, alone.stdout
    _assert_one_line_error(run_cli(*good, "--check", "nosuch"), "--check", "nosuch",
                           *registry.names())


def test_severity_override_changes_the_exit_code() -> None:
    args = ["check", "--app-path", str(FIXTURES / "reserved_metadata_plain"), "--models",
            "app.models", "--format", "json"]
    assert run_cli(*args).returncode == 1
    relaxed = run_cli(*args, "--severity", "SQLA101=warning")
    assert relaxed.returncode == 0
    assert relaxed.findings("SQLA101")[0]["severity"] == "warning"


def test_no_command_prints_help_and_exits_2() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "check" in result.stderr


def test_console_script_and_module_agree() -> None:
    import shutil
    import subprocess

    exe = shutil.which("sidecar")
    if exe is None:
        pytest.skip("console script not on PATH (package not installed)")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert proc.stdout.strip() == run_cli("--version").stdout.strip()


def test_colour_on_a_terminal() -> None:
    """Colour codes only when stdout is a TTY (a pseudo-terminal here)."""
    import os
    import pty
    import subprocess
    import sys

    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "sidecar", "check", "--app-path",
             str(FIXTURES / "reserved_metadata_plain"), "--models", "app.models"],
            stdout=secondary, stderr=subprocess.PIPE, timeout=60,
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(primary)
    out = b"".join(chunks).decode()
    assert proc.returncode == 1
    assert "\033[31m" in out and "SQLA101" in out


def test_check_ignores_the_daemons_token_variable() -> None:
    result = run_cli("check", "--app-path", str(FIXTURES / "good_plain"), "--models",
                     "app.models", env={"SIDECAR_TOKEN": "short"})
    assert result.returncode == 0, result.stderr


def test_severity_is_repeatable_and_codes_are_checked() -> None:
    args = ["check", "--app-path", str(FIXTURES / "reserved_metadata_plain"), "--models",
            "app.models", "--format", "json"]
    relaxed = run_cli(*args, "--severity", "SQLA130=error", "--severity", "SQLA101=info")
    assert relaxed.returncode == 0
    assert relaxed.findings("SQLA101")[0]["severity"] == "info"
    _assert_one_line_error(run_cli(*args, "--severity", "SQLA999=info"), "--severity",
                           "SQLA999")


@pytest.mark.parametrize("url", ["http://127.0.0.1:abc/readyz", "ftp://127.0.0.1/"])
def test_probe_rejects_a_bad_url(url: str) -> None:
    result = run_cli("probe", url)
    assert result.returncode == 2
    assert result.stderr.startswith("sidecar probe: error:") and "Traceback" not in (
        result.stderr)


def test_probe_against_something_that_is_not_http() -> None:
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer_garbage() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    try:
        result = run_cli("probe", f"http://127.0.0.1:{server.getsockname()[1]}/readyz",
                         "--timeout", "3")
    finally:
        server.close()
    assert result.returncode == 1
    assert result.stdout.startswith("NOT READY: cannot reach")
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("env", [{"DATABASE_URL": ""}, {"SIDECAR_DATABASE_URL": "  "},
                                 {"DATABASE_URL": "${DATABASE_URL}"}])
def test_an_empty_or_unexpanded_database_url_is_not_ready(env: dict[str, str]) -> None:
    """compose's `${DATABASE_URL}` with the variable unset gives an empty value: the models
    import, and the database is not "not configured" (skipped, ready) but DB207."""
    result = run_cli("check", "--app-path", str(FIXTURES / "good_plain"), "--models",
                     "app.models", "--format", "json", env=env)
    assert result.returncode == 1, result.stderr
    database = next(c for c in result.report["checks"] if c["name"] == "database")
    assert [f["code"] for f in database["findings"]] == ["DB207"]
    assert database["findings"][0]["facts"]["reason"] in ("empty", "unexpanded")


def test_no_database_url_at_all_still_checks_the_models_only() -> None:
    result = run_cli("check", "--app-path", str(FIXTURES / "good_plain"), "--models",
                     "app.models", "--format", "json")
    assert result.returncode == 0
    database = next(c for c in result.report["checks"] if c["name"] == "database")
    assert database["status"] == "skip"
