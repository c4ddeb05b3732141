""""Is this the app's file?" has one answer (worker/source/locate.is_app_file), for the worker
placing a finding and for the daemon placing a hang from a faulthandler dump."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

from sidecar.cycle import tracebacks
from sidecar.worker.source import locate
from sidecar.worker.source.locate import Locator, is_app_file
from tests.support.helpers import ROOT


def _app(tmp_path: Path) -> Path:
    """An app whose own venv lives inside the app path (``./.venv``), as on many laptops."""
    app = tmp_path / "app"
    site = app / ".venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "libmod.py").write_text(textwrap.dedent("""\
        import faulthandler
        import sys


        def call_and_dump():
            faulthandler.dump_traceback(sys.stderr, all_threads=True)  # as the worker does
    """))
    (app / "models.py").write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(site)!r})
        import libmod


        def build():
            libmod.call_and_dump()  # the app's line


        build()
    """))
    return app


def test_the_daemon_places_a_dump_at_the_apps_line_not_the_library(tmp_path: Path) -> None:
    app = _app(tmp_path)
    dump = subprocess.run([sys.executable, str(app / "models.py")], capture_output=True,
                          text=True, timeout=60, check=True).stderr
    assert "libmod.py" in dump  # the innermost frame is the library's
    assert tracebacks.user_frame_from_dump(dump, str(app)) == ("models.py", 7)


def test_installed_packages_standard_library_and_worker_are_not_the_app(tmp_path: Path) -> None:
    app = os.path.realpath(_app(tmp_path))
    site = os.path.join(app, ".venv", "lib", "python3.11", "site-packages", "libmod.py")
    assert is_app_file(os.path.join(app, "models.py"), app)
    assert not is_app_file(site, app)
    assert not is_app_file("<frozen importlib._bootstrap>", app)
    assert not is_app_file(None, app)
    assert not is_app_file(str(tmp_path / "elsewhere.py"), app)
    # an app path that contains the sidecar itself (a checkout) or the standard library
    worker_main = str(ROOT / "sidecar" / "worker" / "main.py")
    assert not is_app_file(worker_main, str(ROOT))
    assert is_app_file(str(ROOT / "sidecar" / "settings.py"), str(ROOT))
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    assert not is_app_file(os.path.join(stdlib, "os.py"), os.path.dirname(stdlib))


def test_the_worker_asks_the_same_function(tmp_path: Path) -> None:
    app = _app(tmp_path)
    locator = Locator(str(app))
    for name in ("models.py", ".venv/lib/python3.11/site-packages/libmod.py"):
        path = str(app / name)
        assert locator.is_user_file(path) == is_app_file(path, os.path.realpath(app))
    assert locate.is_app_file is is_app_file
