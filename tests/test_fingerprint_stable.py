"""The models' hash must be the same in every worker process, or the cached comparison is
never reused: sets of constraints iterate in an order that depends on memory addresses."""

from __future__ import annotations

import subprocess
import sys

from tests.support.helpers import EXAMPLES, ROOT

SCRIPT = r"""
import importlib.util, os, sys
junk = [object() for _ in range(int(sys.argv[1]))]  # shift the addresses of what follows
sys.path.insert(0, sys.argv[2])
from server import models_plain, models_sql  # noqa: F401
from server.db import db
spec = importlib.util.spec_from_file_location(
    "_w", sys.argv[3] + "/__init__.py", submodule_search_locations=[sys.argv[3]])
mod = importlib.util.module_from_spec(spec); sys.modules["_w"] = mod
spec.loader.exec_module(mod)
from _w.checks.drift.fingerprint import models_hash
print(models_hash([db.metadata, models_plain.Base.metadata], {"schemas": [None]}))
"""


def test_models_hash_is_the_same_in_every_process() -> None:
    hashes = set()
    for junk in (0, 17, 1001, 5003):
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(junk), str(EXAMPLES / "good"),
             str(ROOT / "sidecar" / "worker")],
            capture_output=True, text=True, check=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": str(junk),
                 "PYTHONDONTWRITEBYTECODE": "1"})
        hashes.add(proc.stdout.strip())
    assert len(hashes) == 1, hashes
