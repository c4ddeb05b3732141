"""The worker↔daemon protocol: a versioned hello, one result shape, the cache as its own
event — and a worker of another version is a finding, never a misread report."""

from __future__ import annotations

import asyncio
import sys
import textwrap

from sidecar.cli.main import build_parser
from sidecar.cycle.runner import run_worker
from sidecar.settings import resolve
from sidecar.worker import protocol, registry
from tests.support.helpers import FIXTURES, run_cli
from tests.test_database_cli import GOOD, MODELS, migrate

RESULT_KEYS = set(protocol.check_result("x"))


def _run(*args: str, cache: dict | None = None):
    settings = resolve(build_parser().parse_args(["check", *args]), environ={})
    config = dict(settings.worker_config(), **({"cache": cache} if cache else {}))
    return asyncio.run(run_worker(settings.python, config, 60))


def test_hello_first_with_the_version_then_one_result_per_check_then_done() -> None:
    run = _run("--app-path", str(FIXTURES / "good_plain"), "--models", "app.models")
    assert run.outcome == "ok" and run.protocol_ok
    assert run.events[0]["event"] == protocol.HELLO
    assert run.events[0]["protocol"] == protocol.PROTOCOL_VERSION
    assert run.events[-1]["event"] == protocol.DONE
    assert [c["name"] for c in run.checks] == registry.names()
    for result in run.checks:
        assert set(result) - {"reason"} == RESULT_KEYS, result
    assert run.caches == {}  # nothing compared, nothing kept


def test_the_drift_cache_is_its_own_event_and_comes_back(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url, "0001")  # the incident: a rename not applied, so there is something to keep
    args = ("--app-path", str(GOOD), *MODELS, "--database-url", url)
    first = _run(*args)
    kept = first.caches
    drifting = [c.name for c in registry.CHECKS if c.counts_schema_differences]
    assert list(kept) == drifting
    cache = kept[drifting[0]]
    assert set(cache) == {"fingerprint", "catalog_version", "models_hash", "result",
                          "compared_at", "stats"}
    assert cache["result"] and not any(f.get("file") for f in cache["result"])  # unlocated
    drift = next(c for c in first.checks if c["name"] == drifting[0])
    assert "result" not in drift["observed"] and drift["observed"]["reused"] is False
    assert any(f.get("file") for f in drift["findings"])  # the findings do point at models
    again = next(c for c in _run(*args, cache=kept).checks if c["name"] == drifting[0])
    assert again["observed"]["reused"] is True
    assert again["findings"] == drift["findings"]


def test_a_worker_of_another_protocol_is_a_finding(tmp_path) -> None:
    """An old daemon starting an upgraded worker: SIDE010, and none of its results read."""
    fake = tmp_path / "python"
    fake.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""
        import json, os, sys
        config = json.loads(sys.stdin.read())
        out = os.fdopen(config["result_fd"], "w")
        def send(**event):
            out.write(json.dumps(event) + "\\n")
        send(event="hello", protocol={protocol.PROTOCOL_VERSION + 1},
             versions={{"python": "9.9", "sqlalchemy": "9.9"}})
        for name in config["checks"]:
            send(event="check", result={{"name": name, "ran": True, "observed": {{}},
                 "findings": [{{"code": "SQLA121", "message": "misread"}}]}})
        send(event="done")
    """))
    fake.chmod(0o755)
    result = run_cli("check", "--app-path", str(FIXTURES / "good_plain"), "--models",
                     "app.models", "--python", str(fake), "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    first, *others = result.report["checks"]
    assert [f["code"] for f in first["findings"]] == ["SIDE010"]
    assert first["findings"][0]["facts"]["worker_protocol"] == str(
        protocol.PROTOCOL_VERSION + 1)
    assert [c["name"] for c in result.report["checks"]] == registry.names()
    for check in others:
        assert check["status"] == "skip" and "protocol" in check["reason"], check
    assert not result.findings("SQLA121")
