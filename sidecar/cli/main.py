"""``sidecar`` command line: check (one shot), later serve / probe / demo.

Exit codes for ``check``: 0 no error-level finding, 1 at least one, 2 usage or configuration
error (one line on stderr, never a traceback), 3 the report could not be written (a full disk,
a closed pipe): never the same code as "has findings".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence

from sidecar import __version__
from sidecar.settings import ConfigError, add_options, resolve

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_OUTPUT = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2 (argparse prints the usage too)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"sidecar: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sidecar", description="Startup health checks and diagnostics for "
                     "SQLAlchemy backends.")
    parser.add_argument("--version", action="version", version=f"sidecar {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    check = sub.add_parser("check", help="run every check once and print the report",
                           description="Run every check (or those given with --check) "
                           "once; exit 0 when no error-level finding, 1 otherwise, 2 on a "
                           "usage error.")
    add_options(check, "check")
    serve = sub.add_parser("serve", help="run the checks in the background and serve "
                           "/livez /readyz /metrics /diagnose",
                           description="Serve probes and diagnostics from the latest cycle.")
    add_options(serve, "serve")
    demo = sub.add_parser("demo", help="serve the bundled example (the incident) on SQLite",
                          description="The bundled example backend with the incident's "
                          "problems, on a throwaway SQLite database.")
    demo.add_argument("--once", action="store_true",
                      help="run one cycle, print the report and exit (like check)")
    add_options(demo, "demo")
    # placeholders that pass validation; the demo replaces them with its own copy's
    demo.set_defaults(models=["server.models_sql"])
    revision = sub.add_parser(
        "revision", help="write the Alembic revision that brings the database to the models",
        description="Run the checks once, like check (same options), and write the Alembic "
        "revision that repairs the schema drift found: renames as alter_column, destructive "
        "steps commented out. Exit 0 when written (or nothing to repair), 1 when none could "
        "be written, 2 on a usage error. Nothing runs against the database.")
    add_options(revision, "check")
    from sidecar.cli.revision import add_arguments

    add_arguments(revision)
    probe = sub.add_parser("probe", help="GET /readyz once: exit 0 when ready, 1 otherwise "
                           "(a HEALTHCHECK without curl)")
    probe.add_argument("url", nargs="?", default=None,
                       help="default: http://127.0.0.1:$SIDECAR_PORT/readyz?verbose "
                       "[env: SIDECAR_PROBE_URL]")
    probe.add_argument("--timeout", dest="probe_timeout", default=None, metavar="SECONDS",
                       help="seconds to wait for the answer (default 3) "
                       "[env: SIDECAR_PROBE_TIMEOUT]")
    return parser


def cmd_check(args: argparse.Namespace) -> int:
    from sidecar.cycle.diagnosis import diagnose
    from sidecar.render.text import render

    if args.list_checks:
        sys.stdout.write(list_checks())
        return EXIT_OK
    from sidecar.cycle import reaper

    settings = resolve(args)
    reaper.become_subreaper()  # what the app daemonizes is reaped, not left to init
    report = asyncio.run(diagnose(settings))
    if settings.format == "json":
        text = json.dumps(report.to_dict(), indent=2) + "\n"
    else:
        text = render(report, colour=sys.stdout.isatty())
    if not _emit(text):
        return EXIT_OUTPUT
    return EXIT_FINDINGS if report.has_errors() else EXIT_OK


def _emit(text: str) -> bool:
    """Write the report to stdout; False (and one line on stderr) when stdout refuses it.

    ``check > /dev/full`` or a reader that went away would otherwise end in a traceback,
    and a second one when the interpreter flushes stdout at exit.
    """
    import os

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    except OSError as exc:
        with contextlib.suppress(OSError):
            sys.stderr.write(f"sidecar: error: cannot write the report to stdout: "
                             f"{exc.strerror or exc}\n")
        with contextlib.suppress(OSError, ValueError):  # nothing more reaches that stdout
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False


def list_checks() -> str:
    """One line per check, in run order: its name, what it does, what it needs."""
    from sidecar.worker.registry import CHECKS

    width = max(len(check.name) for check in CHECKS)
    lines = []
    for check in CHECKS:
        needs = f" (needs {', '.join(check.needs)})" if check.needs else ""
        lines.append(f"{check.name:<{width}}  {check.description}{needs}\n")
    return "".join(lines)


def cmd_serve(args: argparse.Namespace) -> int:
    from sidecar.daemon.main import serve
    from sidecar.worker.redact import url_password

    if any(url_password(value) for value in args.database_url or ()):  # NAME=URL too
        # a daemon lives long, and argv is readable by every process of the same user;
        # stderr may be a full disk: a warning must never stop the daemon
        with contextlib.suppress(OSError):
            sys.stderr.write("sidecar: warning: --database-url carries a password, visible "
                             "in `ps`; prefer SIDECAR_DATABASE_URL or DATABASE_URL\n")
    return serve(resolve(args))


def cmd_probe(args: argparse.Namespace) -> int:
    import os

    from sidecar.cli.probe import probe
    from sidecar.settings import _port, _positive_float

    try:
        port = _port(os.environ.get("SIDECAR_PORT") or "8787")
        timeout = _positive_float(args.probe_timeout or os.environ.get(
            "SIDECAR_PROBE_TIMEOUT") or "3")
    except ValueError as exc:
        raise ConfigError(f"--timeout/SIDECAR_PORT: {exc}") from None
    url = args.url or os.environ.get("SIDECAR_PROBE_URL") or (
        f"http://127.0.0.1:{port}/readyz?verbose")
    return probe(url, timeout)


def cmd_demo(args: argparse.Namespace) -> int:
    from sidecar.cli.demo import run

    return run(resolve(args), once=args.once)


def cmd_revision(args: argparse.Namespace) -> int:
    from sidecar.cli.revision import run

    return run(args)


COMMANDS = {"check": cmd_check, "serve": cmd_serve, "probe": cmd_probe, "demo": cmd_demo,
            "revision": cmd_revision}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        sys.stderr.write(f"sidecar: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
