"""No test asserts how fast something ran.

On a loaded machine (2 cores shared by several runs) ``cycle took 2.0063 s <= 2`` fails a
test that passes alone: a speed claim is a benchmark's job (benchmarks/), not a test's. A
test waits for what it expects under a generous deadline against hangs (``wait_for(...,
60)``, ``subprocess.run(timeout=...)``) and asserts what happened, not how long it took.

This scan finds ``assert`` statements that order-compare something that looks like a
duration or a clock reading (``took``, ``elapsed``, ``*_s``, ``time.monotonic()``, ...). A
deadline that must be an assertion goes in ALLOWED, with the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.helpers import ROOT

TESTS = ROOT / "tests"
APPS = (TESTS / "fixtures", TESTS / "reliability" / "apps",
        TESTS / "heldout" / "cases")  # apps under test, not tests

# (file, the comparison as ast.unparse prints it) -> why it is a deadline, not a speed claim
ALLOWED: dict[tuple[str, str], str] = {
    ("tests/e2e/test_compose_e2e.py", "elapsed < 600"):
        "the whole Docker e2e's budget: a deadline against a hung engine, ten minutes",
    ("tests/test_daemon.py",
     "m['sidecar_last_run_timestamp_seconds'][0].value > time.time() - 600"):
        "the gauge holds a recent wall-clock timestamp (not a duration); 10 min of slack",
}

DURATION_NAME = re.compile(
    r"(^|_)(took|elapsed|duration|durations|latency|recovery|cycle|seconds|secs)$|_s$"
    r"|^(took|elapsed|duration|latency)", re.I)
CLOCKS = {"time", "monotonic", "perf_counter", "monotonic_ns", "perf_counter_ns", "time_ns",
          "total_seconds"}


def _names(node: ast.AST) -> list[str]:
    """The identifiers an expression reads: names, attributes, called functions, string keys."""
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.append(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.append(sub.attr)
        elif isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant):
            out.append(str(sub.slice.value))
    return out


def _looks_like_time(node: ast.AST) -> bool:
    return any(n in CLOCKS or DURATION_NAME.search(n) for n in _names(node))


def timing_assertions(source: str, filename: str = "<test>") -> list[tuple[int, str]]:
    """(line, comparison) of every assert that bounds a duration or a clock from above
    (``took < 2``, ``2 > took``): what fails when a loaded machine runs it slower."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Assert):
            continue
        for cmp in ast.walk(node.test):
            if not isinstance(cmp, ast.Compare):
                continue
            sides = [cmp.left, *cmp.comparators]
            for op, small, big in zip(cmp.ops, sides, sides[1:], strict=False):
                upper = (small if isinstance(op, (ast.Lt, ast.LtE))
                         else big if isinstance(op, (ast.Gt, ast.GtE)) else None)
                if upper is not None and _looks_like_time(upper):
                    found.append((cmp.lineno, ast.unparse(cmp)))
                    break
    return found


def _suite_files() -> list[Path]:
    return [p for p in sorted(TESTS.rglob("*.py"))
            if not any(p.is_relative_to(a) for a in APPS)]


def test_no_test_asserts_a_duration() -> None:
    offenders, used = [], set()
    for path in _suite_files():
        rel = str(path.relative_to(ROOT))
        for line, comparison in timing_assertions(path.read_text(), rel):
            if (rel, comparison) in ALLOWED:
                used.add((rel, comparison))
            else:
                offenders.append(f"{rel}:{line}: assert {comparison}")
    assert offenders == [], "timing bounds in assertions (use a deadline, or a benchmark)"
    assert used == set(ALLOWED), f"stale allow-list entries: {set(ALLOWED) - used}"


def test_the_scan_finds_the_usual_shapes() -> None:
    bad = """
took = d.stop()
assert took < 2.0, f"stopped in {took:.2f}s"
assert time.monotonic() - started < 1.5 + 2
assert elapsed < 3 + 5
assert cycle <= max_cycle_s, "the cycle took"
assert recovery_s is not None and recovery_s <= spec.bound_s
assert float(report["duration_s"]) <= 2
assert _cycle_s(d) < 4
"""
    assert len(timing_assertions(bad)) == 7
    fine = """
assert result.returncode == 1
assert grown_mib < 50
assert len(finding["output"]) < 8000
assert done >= CYCLES
assert report["duration_s"] == 0.5
assert "duration_s" in check
assert obs["latency_ms"] >= 0
"""
    assert timing_assertions(fine) == []
