"""Read faulthandler dumps out of the worker's stderr to place a hang or a crash."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from sidecar.worker.source.locate import app_relative, is_app_file, target_packages

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>.+)$', re.M)
_HEADER = re.compile(r"^(?:Current thread|Thread) 0x[0-9a-f]+ .*\(most recent call first\):$",
                     re.M)


def user_frame_from_dump(stderr: str, app_path: str, targets: Sequence[str] = (),
                         roots: Sequence[Sequence[str]] = ()) -> tuple[str, int] | None:
    """(relative file, line) of the innermost app frame in the last faulthandler dump.

    ``targets`` (the ``--models`` values) make a frame in ``site-packages/<their package>/``
    the app's, as in the worker; ``roots`` ([folder, import base] from the worker's hello)
    add the packages' folders elsewhere (editable installs, namespace portions).

    faulthandler prints the most recent call first; with several threads the main thread's
    block is the one that contains the import machinery, which we prefer.
    """
    app_path = os.path.realpath(app_path)
    packages = target_packages(targets)
    pairs = [(str(r[0]), str(r[1])) for r in roots if len(r) == 2]
    folders = [folder for folder, _ in pairs]
    headers = list(_HEADER.finditer(stderr))
    if not headers:
        return None
    # blocks of the last dump: from the first header after the last "Timeout"/"Fatal" line
    starts = [h.start() for h in headers]
    blocks = [stderr[s:e] for s, e in zip(starts, [*starts[1:], len(stderr)], strict=False)]
    blocks.sort(key=lambda b: "importlib" not in b)  # the importing thread first
    for block in blocks:
        for m in _FRAME.finditer(block):
            if is_app_file(m.group("file"), app_path, packages, folders):
                return app_relative(m.group("file"), app_path, pairs), int(m.group("line"))
    return None


def strip_dumps(stderr: str) -> str:
    """The app's own stderr without faulthandler's dump, for the output tail we show."""
    cut = re.search(r"^(?:Timeout \([\d:.]+\)!|Fatal Python error: .*)$", stderr, re.M)
    return stderr[: cut.start()] if cut else stderr
