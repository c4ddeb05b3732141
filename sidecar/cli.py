"""``sidecar`` command line: check (one shot), later serve / probe / demo.

Exit codes for ``check``: 0 no error-level finding, 1 at least one, 2 usage or configuration
error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from sidecar import __version__
from sidecar.settings import ConfigError, add_options, resolve

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


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
                           description="Run every check once; exit 0 when no error-level "
                           "finding, 1 otherwise, 2 on a usage error.")
    add_options(check)
    return parser


def cmd_check(args: argparse.Namespace) -> int:
    from sidecar.diagnosis import diagnose
    from sidecar.render_text import render

    settings = resolve(args)
    report = asyncio.run(diagnose(settings))
    if settings.format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(render(report, colour=sys.stdout.isatty()))
    return EXIT_FINDINGS if report.has_errors() else EXIT_OK


COMMANDS = {"check": cmd_check}


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
