"""Real applications written by others: their pins, their cached venvs, their migrations.

Each app is installed from PyPI at a pinned version into its own venv, made by the suite on
demand and kept under ``$SIDECAR_TEST_VENVS/realapps/<app>-<hash of the pins>`` (the
default ``.test-venvs/`` is gitignored): changing a pin makes a new venv, an unchanged pin
reuses the old one. The worker needs nothing in these venvs but the SQLAlchemy the app
brings (it runs under ``--python`` with the standard library and SQLAlchemy only);
``psycopg2-binary`` is there because sidecar is given a sync ``postgresql+psycopg2`` URL.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import VENVS

REALAPPS_VENVS = VENVS / "realapps"


@dataclass(frozen=True)
class App:
    name: str
    requirements: tuple[str, ...]

    @property
    def key(self) -> str:
        text = "\n".join((f"python {sys.version_info[0]}.{sys.version_info[1]}",
                          *self.requirements))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def venv(self) -> Path:
        return REALAPPS_VENVS / f"{self.name}-{self.key}"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def site_packages(self) -> Path:
        out = subprocess.run([str(self.python), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True)
        return Path(out.stdout.strip())


# SQLAlchemy and Alembic are pinned too (to what each app resolved to on 2026-12-02): they
# decide what the worker sees, so a new release must not change a result behind our back.
_COMMON = ("alembic==1.20.1", "psycopg2-binary==2.9.11")
OPTUNA = App("optuna", ("optuna==5.0.0", "SQLAlchemy==2.1.9", *_COMMON))
ZOU = App("zou", ("zou==1.0.97", "SQLAlchemy==2.0.49", *_COMMON))
DAGSTER = App("dagster", ("dagster==1.13.27", "dagster-postgres==0.29.27",
                          "SQLAlchemy==2.1.9", *_COMMON))
PREFECT = App("prefect", ("prefect==3.9.1", "SQLAlchemy==2.1.9", *_COMMON))
BUILDBOT = App("buildbot", ("buildbot==4.3.0", "SQLAlchemy==2.1.9", *_COMMON))
ALL = (OPTUNA, ZOU, DAGSTER, PREFECT, BUILDBOT)


def ensure_venv(app: App) -> Path:
    """The app's interpreter, installing its pins first if this key has no complete venv
    (a stamp file is written last, so a venv whose install was interrupted is redone)."""
    stamp = app.venv / ".requirements"
    wanted = "\n".join(app.requirements)
    REALAPPS_VENVS.mkdir(parents=True, exist_ok=True)
    with open(REALAPPS_VENVS / f".{app.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two pytest processes never build one venv twice
        if app.python.exists() and stamp.exists() and stamp.read_text() == wanted:
            return app.python
        shutil.rmtree(app.venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(app.venv)], check=True)
        subprocess.run([str(app.python), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", *app.requirements], check=True,
                       env={**os.environ, "PIP_NO_INPUT": "1"})
        stamp.write_text(wanted)
    return app.python


if __name__ == "__main__":  # pre-build: python -m tests.realapps.apps optuna zou ...
    by_name = {a.name: a for a in ALL}
    for name in sys.argv[1:] or list(by_name):
        print(name, ensure_venv(by_name[name]), flush=True)
