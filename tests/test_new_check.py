"""A new check is one module plus one registry line: in a copy of the package with a made-up
check added that way, it shows up in ``--list-checks``, ``--check``, the text and JSON
reports, ``/readyz/<name>``, ``/readyz?verbose`` and ``/metrics`` — no other file touched."""

from __future__ import annotations

import difflib
import filecmp
import shutil
from pathlib import Path

import pytest

from tests.support.daemon import Daemon
from tests.support.helpers import FIXTURES, ROOT, run_cli

CANARY = '''"""A made-up check: reads what models_import left on the Context."""

from __future__ import annotations

from ..context import CheckOutcome, Context, Skip
from ..protocol import finding


def run_canary(ctx: Context) -> CheckOutcome:
    if not ctx.import_ok:
        raise Skip("the models did not import")
    return {"findings": [finding("SQLA121", "the canary sang")],
            "observed": {"targets": len(ctx.targets)}}
'''
LINE = ('    Check("canary", "checks.canary:run_canary", "a made-up check that sings",\n'
        '          needs=("models_import",)),\n')
APP = ["--app-path", str(FIXTURES / "good_plain"), "--models", "app.models"]


@pytest.fixture(scope="module")
def with_canary(tmp_path_factory) -> dict[str, str]:
    """The environment that runs a copy of sidecar with the canary check added."""
    root = tmp_path_factory.mktemp("canary")
    shutil.copytree(ROOT / "sidecar", root / "sidecar",
                    ignore=shutil.ignore_patterns("__pycache__"))
    worker = root / "sidecar" / "worker"
    (worker / "checks" / "canary.py").write_text(CANARY)
    registry = worker / "registry.py"
    text = registry.read_text()
    end = text.index("\n)\n", text.index("CHECKS: Tuple[Check, ...] = ("))
    registry.write_text(text[:end + 1] + LINE + text[end + 1:])
    # exactly one module and one registry entry differ from the real package
    diff = [line for line in difflib.unified_diff(
        (ROOT / "sidecar" / "worker" / "registry.py").read_text().splitlines(),
        registry.read_text().splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert diff == ["+" + line for line in LINE.splitlines()]
    assert _differing(ROOT / "sidecar", root / "sidecar") == ["worker/checks/canary.py",
                                                              "worker/registry.py"]
    # the copy comes first on sys.path (not the working directory, not the installed one)
    return {"PYTHONPATH": str(root), "PYTHONSAFEPATH": "1"}


def _differing(a: Path, b: Path, prefix: str = "") -> list[str]:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    out = [prefix + name for name in cmp.left_only + cmp.right_only + cmp.diff_files]
    for sub in cmp.common_dirs:
        out += _differing(a / sub, b / sub, f"{prefix}{sub}/")
    return sorted(out)


def test_listed(with_canary) -> None:
    result = run_cli("check", "--list-checks", env=with_canary)
    assert result.returncode == 0, result.stderr
    assert "canary" in result.stdout and "a made-up check that sings" in result.stdout


def test_runs_in_the_report_and_with_check(with_canary) -> None:
    text = run_cli("check", *APP, env=with_canary)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "[ok] canary" in text.stdout and "the canary sang" in text.stdout
    only = run_cli("check", *APP, "--check", "canary", "--format", "json", env=with_canary)
    assert [c["name"] for c in only.report["checks"]] == ["models_import", "canary"]
    assert only.check("canary")["observed"] == {"targets": 1}
    assert run_cli("check", *APP, "--check", "canary").returncode == 2  # unknown to the real one


def test_served_on_its_route_and_in_metrics(with_canary) -> None:
    with Daemon(*APP, "--ready-check", "canary", env=with_canary) as daemon:
        daemon.wait_first_cycle()
        assert daemon.get("/readyz/canary") == (200, "[+]canary ok\n")
        status, body = daemon.get("/readyz?verbose")
        assert status == 200 and "[+]canary ok" in body, body
        metrics = daemon.get("/metrics")[1]
        assert 'sidecar_check_status{check="canary",status="pass"} 1.0' in metrics
        assert 'sidecar_findings{check="canary",code="SQLA121",severity="info"} 1.0' in metrics
