#!/usr/bin/env python3
"""Score `sidecar check` on the held-out corpus of broken model packages (tests/heldout/).

Each case is a small app written the way real projects write models, with one planted
mistake (a few with two) and a case.json naming the statement an engineer must edit. For
every case this runs the real CLI, as a user would:

    sidecar check --app-path tests/heldout/cases/<name> --models app.models --format json

(``--python`` for another SQLAlchemy: the worker runs under that interpreter), and scores:

- **exact**: for every planted mistake, some error/warning finding whose file is the
  expected file, whose line falls in the expected statement (a statement spanning several
  lines counts once, at any of its lines; a class header only at its own lines; a line
  inside a statement where a call's argument starts, such as a Column of a Core Table,
  only that argument's lines) and whose class is the expected class (when it has one);
- **generic**: the finding scored for the case (the located one, else the first error, else
  the first warning) has the generic code (SQLA199) or a code the catalog does not know;
- **not ready**: the report's status is ``fail`` (every case is broken, so this should be
  all of them — a broken package that comes out ready is the worst outcome);
- **engineer**: the first 3 lines of the located finding as ``sidecar check`` prints it
  name the expected ``file:line`` and, from the word "fix" on, a concrete edit (an edit
  verb such as rename/add/remove/import, or a code span in backticks that is not a command
  to re-run, like `python -c 'import app.models'`); **engineer
  anywhere** asks the same of the whole finding (is the fix there at all, wherever it is).

A **control** is a package that works on the SQLAlchemy at hand: a case with no planted
mistake (``"expect": []``) or one outside its ``"sqlalchemy"`` range (``registry = Column()``
breaks only from 2.1). Any error-level finding on a control is a false alarm: a working app
held NOT READY.

``--verify`` also runs each case under plain SQLAlchemy (import the models, record every
warning, ``configure_mappers()``, resolve every ForeignKey of every MetaData found) with the
same interpreter: a case that neither raises nor warns there is not broken and is reported
(and a control that does is).

    .venv/bin/python scripts/score_heldout.py                       # the suite's SQLAlchemy
    .venv/bin/python scripts/score_heldout.py --python .test-venvs/sqla20/bin/python
    .venv/bin/python scripts/score_heldout.py --verify --json       # for machines
    .venv/bin/python scripts/score_heldout.py --case flask_blog_metadata -v

tests/test_heldout.py runs it on SQLAlchemy 2.0 and 2.1 against tests/heldout/threshold.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "heldout" / "cases"
GENERIC_CODES = frozenset({"SQLA199"})
ENGINEER_LINES = 3
# an edit an engineer can make: the verb of a hint that says what to change
EDIT_VERBS = re.compile(
    r"\b(rename|add|remove|delete|drop|change|replace|set|declare|import|install|move|give|"
    r"pass|use|define|wrap|spell|point|name|make|mark|correct|fix)\b", re.IGNORECASE)
CODE_SPAN = re.compile(r"`[^`]+`")
RERUN = re.compile(r"`(python\S*|sidecar) ")

# Plain SQLAlchemy, no sidecar: does the case really break? Runs under the case's interpreter
# (standard library and SQLAlchemy only, Python 3.8 syntax). Prints one JSON line.
VERIFY = r"""
import importlib, json, os, sys, traceback, warnings
case, targets = sys.argv[1], sys.argv[2:]
sys.path.insert(0, case)
os.chdir(case)
problems = []
def _found_metadata():
    from sqlalchemy import MetaData
    found = {}
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None) or ""
        if not os.path.abspath(path).startswith(os.path.abspath(case) + os.sep):
            continue
        for value in list(vars(mod).values()):
            for cand in (value, getattr(value, "metadata", None)):
                if isinstance(cand, MetaData):
                    found[id(cand)] = cand
    return list(found.values())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        for target in targets:
            module = importlib.import_module(target.split(":")[0])
            if ":" in target:
                getattr(module, target.split(":")[1])
        from sqlalchemy.orm import configure_mappers
        configure_mappers()
        for md in _found_metadata():
            for table in md.tables.values():
                for fk in table.foreign_keys:
                    fk.column
    except BaseException as exc:  # noqa: BLE001 - a broken case may raise anything
        problems.append({"kind": "raise", "type": type(exc).__name__,
                         "message": str(exc)[:300]})
for w in caught:
    problems.append({"kind": "warn", "type": w.category.__name__,
                     "message": str(w.message)[:300]})
print(json.dumps({"problems": problems}))
"""


@dataclass
class Expect:
    file: str
    line: int
    cls: str | None
    attribute: str | None = None
    table: str | None = None
    mistake: int = 0
    span: tuple[int, int] = (0, 0)


@dataclass
class Case:
    name: str
    path: Path
    models: list[str]
    style: str
    family: str
    sqlalchemy: str
    expect: list[Expect]
    note: str = ""

    @property
    def mistakes(self) -> list[int]:
        return sorted({e.mistake for e in self.expect})


@dataclass
class Outcome:
    case: str
    family: str
    style: str
    expected: str
    got: str = ""
    code: str | None = None
    status: str | None = None
    exact: bool = False
    generic: bool = False
    not_ready: bool = False
    engineer: bool = False
    engineer_anywhere: bool = False
    first_lines: list[str] = field(default_factory=list)
    finding: dict[str, Any] | None = None  # the located one, else the first error or warning
    verify: list[dict[str, str]] | None = None
    error: str | None = None
    control: bool = False  # healthy here: no mistake planted, or outside its SQLAlchemy range
    false_alarm: bool = False  # a control that came out NOT READY


def statement_span(path: Path, line: int) -> tuple[int, int]:
    """The lines of the statement that starts at ``line``: the whole statement for a simple
    one (a Column call over three lines), only the header for a class or function."""
    tree = ast.parse(path.read_text(), str(path))
    best: tuple[int, int] | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        if not first <= line <= (node.end_lineno or node.lineno):
            continue
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            span = (first, node.body[0].lineno - 1)
            if not span[0] <= line <= span[1]:
                continue  # the line is inside the body: a smaller statement holds it
        else:
            span = (node.lineno, node.end_lineno or node.lineno)
        if best is None or span[1] - span[0] <= best[1] - best[0]:
            best = span
    if best is None:
        raise ValueError(f"{path}:{line} is not inside any statement")
    if line != best[0]:
        # inside a statement, a call passed as an argument that starts at the line is what to
        # edit:
        # Column("owner_id", ...) in a Core Table(...) of twelve lines
        stmt = next(n for n in ast.walk(tree) if isinstance(n, ast.stmt)
                    and (n.lineno, n.end_lineno or n.lineno) == best)
        args = [a for n in ast.walk(stmt) if isinstance(n, ast.Call)
                for a in (*n.args, *(k.value for k in n.keywords))
                if isinstance(a, ast.Call) and a.lineno == line]
        if args:
            arg = min(args, key=lambda a: (a.end_lineno or a.lineno) - a.lineno)
            return (arg.lineno, arg.end_lineno or arg.lineno)
    return best


def load_cases(root: Path = CASES, names: Iterable[str] = ()) -> list[Case]:
    wanted = set(names)
    cases = []
    for spec in sorted(root.glob("*/case.json")):
        name = spec.parent.name
        if wanted and name not in wanted:
            continue
        data = json.loads(spec.read_text())
        expects = []
        for e in data["expect"]:
            exp = Expect(file=e["file"], line=int(e["line"]), cls=e.get("class"),
                         attribute=e.get("attribute"), table=e.get("table"),
                         mistake=int(e.get("mistake", 0)))
            exp.span = statement_span(spec.parent / exp.file, exp.line)
            expects.append(exp)
        cases.append(Case(name=name, path=spec.parent, models=list(data["models"]),
                          style=data["style"], family=data["family"],
                          sqlalchemy=data.get("sqlalchemy", ">=2.0"), expect=expects,
                          note=data.get("note", "")))
    if wanted - {c.name for c in cases}:
        raise SystemExit(f"no such case: {', '.join(sorted(wanted - {c.name for c in cases}))}")
    return cases


def sqlalchemy_version(python: str) -> str:
    out = subprocess.run([python, "-c", "import sqlalchemy; print(sqlalchemy.__version__)"],
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip()


def applies(case: Case, version: str) -> bool:
    from packaging.specifiers import SpecifierSet
    return SpecifierSet(case.sqlalchemy).contains(version, prereleases=True)


def _env() -> dict[str, str]:
    # as a user runs it: none of the suite's SIDECAR_* settings (strict findings included),
    # no database
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    env.pop("DATABASE_URL", None)
    return env


def run_check(case: Case, python: str | None, timeout_s: float) -> dict[str, Any]:
    args = [sys.executable, "-m", "sidecar", "check", "--app-path", str(case.path),
            "--format", "json", "--timeout", str(timeout_s)]
    for target in case.models:
        args += ["--models", target]
    if python:
        args += ["--python", python]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s + 60,
                          env=_env(), cwd=ROOT)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"sidecar check exited {proc.returncode}: {proc.stderr[-500:]}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def run_verify(case: Case, python: str) -> list[dict[str, str]]:
    proc = subprocess.run([python, "-c", VERIFY, str(case.path), *case.models],
                          capture_output=True, text=True, timeout=120, env=_env(), cwd=case.path)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{"problems"')]
    if not lines:
        return [{"kind": "crash", "type": f"exit {proc.returncode}",
                 "message": proc.stderr[-300:]}]
    problems: list[dict[str, str]] = json.loads(lines[-1])["problems"]
    return problems


def _matches(f: dict[str, Any], e: Expect) -> bool:
    if f.get("severity") not in ("error", "warning") or not f.get("file") or not f.get("line"):
        return False
    if Path(f["file"]).as_posix() != e.file:
        return False
    if not e.span[0] <= int(f["line"]) <= e.span[1]:
        return False
    return e.cls is None or f.get("class") == e.cls


def _where(f: dict[str, Any]) -> str:
    loc = f"{f.get('file')}:{f.get('line')}" if f.get("file") else "-"
    obj = f.get("class") or f.get("table") or ""
    member = f.get("attribute") or f.get("column")
    if obj and member:
        obj += f".{member}"
    return f"{f.get('code')} {loc}" + (f" ({obj})" if obj else "")


def first_lines(f: dict[str, Any], limit: int | None = ENGINEER_LINES) -> list[str]:
    """The finding as `sidecar check` prints it, its first ``limit`` lines (all: None)."""
    from sidecar.findings.model import Finding
    from sidecar.render.text import render_finding
    text = render_finding(Finding.from_dict(f, strict=False))
    return [ln.rstrip() for ln in text.splitlines()[:limit]]


def engineer_ok(lines: list[str], e: Expect) -> bool:
    text = "\n".join(lines)
    places = {f"{e.file}:{n}" for n in range(e.span[0], e.span[1] + 1)}
    if not any(re.search(re.escape(p) + r"(?!\d)", text) for p in places):
        return False
    at = re.search(r"\bfix\b", text, re.IGNORECASE)
    if not at:
        return False
    rest = text[at.start():]
    # a command to run (`python -c ...`) shows the error again; it is not an edit
    rest = CODE_SPAN.sub(lambda m: "" if RERUN.match(m.group()) else m.group(), rest[3:])
    return bool(EDIT_VERBS.search(rest) or CODE_SPAN.search(rest))


def score(case: Case, report: dict[str, Any], catalog_codes: set[str]) -> Outcome:
    findings = [f for c in report["checks"] for f in c["findings"]]
    shown = [f for f in findings if f.get("severity") in ("error", "warning")]
    out = Outcome(case=case.name, family=case.family, style=case.style,
                  expected="; ".join(
                      f"{e.file}:{e.line} ({e.cls or e.table or '-'}"
                      f"{'.' + e.attribute if e.attribute else ''})" for e in case.expect),
                  status=report.get("status"))
    located: list[tuple[dict[str, Any], Expect]] = []
    for mistake in case.mistakes:
        alts = [e for e in case.expect if e.mistake == mistake]
        hit = next(((f, e) for f in shown for e in alts if _matches(f, e)), None)
        if hit:
            located.append(hit)
    out.exact = len(located) == len(case.mistakes)
    errors = [f for f in shown if f["severity"] == "error"]
    chosen = located[0][0] if located else (errors or shown or [None])[0]
    if chosen is not None:
        out.finding = chosen
        out.code = chosen.get("code")
        out.got = "; ".join(_where(f) for f in ([h[0] for h in located] or [chosen]))
        out.generic = out.code in GENERIC_CODES or out.code not in catalog_codes
    else:
        out.got = "no finding"
    out.not_ready = report.get("status") == "fail"
    if located:
        out.first_lines = first_lines(located[0][0])
        out.engineer = out.exact and all(engineer_ok(first_lines(f), e) for f, e in located)
        out.engineer_anywhere = out.exact and all(
            engineer_ok(first_lines(f, None), e) for f, e in located)
    elif chosen is not None:
        out.first_lines = first_lines(chosen)
    return out


def control_row(case: Case, report: dict[str, Any]) -> Outcome:
    """A package that works on this SQLAlchemy: any error-level finding is a false alarm (a
    construct that breaks only on a later version is worth a warning, not NOT READY)."""
    errors = [f for c in report["checks"] for f in c["findings"] if f.get("severity") == "error"]
    return Outcome(case=case.name, family=case.family, style=case.style,
                   expected="healthy here", got="; ".join(_where(f) for f in errors) or "ready",
                   code=errors[0].get("code") if errors else None, status=report.get("status"),
                   not_ready=report.get("status") == "fail", control=True,
                   false_alarm=bool(errors), finding=errors[0] if errors else None)


def evaluate(cases: list[Case], python: str | None, jobs: int = 2, verify: bool = False,
             timeout_s: float = 30) -> tuple[str, list[Outcome]]:
    """Every applicable case under ``python`` (default: sidecar's own interpreter)."""
    from sidecar.findings.registry import CATALOG
    codes = set(CATALOG)
    python = os.path.abspath(python) if python else None  # the runs' working folders differ
    interpreter = python or sys.executable
    version = sqlalchemy_version(interpreter)

    def one(case: Case) -> Outcome:
        control = not case.expect or not applies(case, version)
        try:
            report = run_check(case, python, timeout_s)
            out = control_row(case, report) if control else score(case, report, codes)
        except Exception as exc:  # a scorer row, not a crash of the run
            out = Outcome(case=case.name, family=case.family, style=case.style,
                          expected="", error=f"{type(exc).__name__}: {exc}", control=control)
        if verify:
            out.verify = run_verify(case, interpreter)
        return out

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return version, list(pool.map(one, cases))


def _rate(rows: list[Outcome], attr: str) -> float:
    return round(sum(bool(getattr(r, attr)) for r in rows) / len(rows), 4) if rows else 0.0


def totals(all_rows: list[Outcome]) -> dict[str, Any]:
    rows = [r for r in all_rows if not r.control]
    controls = [r for r in all_rows if r.control]
    families: dict[str, list[Outcome]] = {}
    for r in rows:
        families.setdefault(r.family, []).append(r)
    return {
        "cases": len(rows),
        "exact": _rate(rows, "exact"),
        "generic": _rate(rows, "generic"),
        "not_ready": _rate(rows, "not_ready"),
        "engineer": _rate(rows, "engineer"),
        "engineer_anywhere": _rate(rows, "engineer_anywhere"),
        "errors": sum(r.error is not None for r in all_rows),
        "unbroken": sorted(r.case for r in rows if r.verify is not None and not r.verify),
        "controls": len(controls),
        "false_alarms": sorted(r.case for r in controls if r.false_alarm),
        "broken_controls": sorted(r.case for r in controls if r.verify),
        "families": {name: {"cases": len(fam), "exact": _rate(fam, "exact"),
                            "engineer": _rate(fam, "engineer")}
                     for name, fam in sorted(families.items())},
    }


def render_table(version: str, rows: list[Outcome], verbose: bool = False) -> str:
    t = totals(rows)
    lines = [f"SQLAlchemy {version}: {t['cases']} broken case(s), {t['controls']} control(s)", ""]
    head = ("case", "family", "expected", "got", "ok")

    def verdict(r: Outcome) -> str:
        if r.control:
            return ("FALSE ALARM" if r.false_alarm else "control ok") + (
                " BROKEN" if r.verify else "")
        return (("exact" if r.exact else "MISS") + (" eng" if r.engineer else "")
                + (" GENERIC" if r.generic else "") + ("" if r.not_ready else " READY!")
                + (" UNBROKEN" if r.verify is not None and not r.verify else ""))

    table = [head] + [(r.case, r.family, r.expected, r.error or r.got, verdict(r))
                      for r in sorted(rows, key=lambda r: (r.control, r.case))]
    widths = [min(max(len(str(row[i])) for row in table), cap)
              for i, cap in enumerate((34, 22, 52, 60, 30))]
    for row in table:
        lines.append("  ".join(str(v)[:w].ljust(w) for v, w in zip(row, widths, strict=True)))
        if verbose and row is not head:
            r = next(o for o in rows if o.case == row[0])
            lines.extend("      | " + ln for ln in r.first_lines)
            if r.verify is not None:
                lines.extend(f"      verify: {p['kind']} {p['type']}: {p['message'][:120]}"
                             for p in r.verify[:3])
    lines += ["", f"exact statement+class: {t['exact']:.1%}   generic: {t['generic']:.1%}   "
              f"not ready: {t['not_ready']:.1%}   engineer: {t['engineer']:.1%} "
              f"(anywhere in the finding: {t['engineer_anywhere']:.1%})   "
              f"scorer errors: {t['errors']}"]
    if any(r.verify is not None for r in rows):
        lines.append(f"cases that do not break under plain SQLAlchemy: {t['unbroken'] or 'none'}")
        lines.append("controls that break under plain SQLAlchemy: "
                     f"{t['broken_controls'] or 'none'}")
    lines.append(f"controls (healthy on this SQLAlchemy) held NOT READY: "
                 f"{t['false_alarms'] or 'none'}")
    lines.append("per family (exact, engineer):")
    lines += [f"  {name:<28} {f['cases']:>2}  {f['exact']:>6.0%}  {f['engineer']:>6.0%}"
              for name, f in t["families"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="interpreter the worker runs under (another "
                        "SQLAlchemy); default: sidecar's own")
    parser.add_argument("--case", action="append", default=[], help="only this case "
                        "(repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="cases run in parallel (default 2)")
    parser.add_argument("--timeout", type=float, default=30, help="sidecar check --timeout")
    parser.add_argument("--verify", action="store_true", help="also check that each case "
                        "breaks under plain SQLAlchemy")
    parser.add_argument("--json", action="store_true", help="print the rows and totals as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each finding's "
                        "first lines under its row")
    ns = parser.parse_args(argv)
    cases = load_cases(names=ns.case)
    version, rows = evaluate(cases, ns.python, ns.jobs, ns.verify, ns.timeout)
    if ns.json:
        print(json.dumps({"sqlalchemy": version, "totals": totals(rows),
                          "rows": [asdict(r) for r in rows]}, indent=2))
    else:
        print(render_table(version, rows, ns.verbose))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
