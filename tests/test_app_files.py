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


def _installed_app(tmp_path: Path) -> tuple[Path, Path]:
    """A package ``shop`` installed into a site-packages outside the app path, beside a
    library ``libdump`` that the app calls (which dumps the stack, as the worker does)."""
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "shop").mkdir(parents=True)
    (site / "shop" / "__init__.py").write_text("")
    (site / "libdump.py").write_text(textwrap.dedent("""\
        import faulthandler
        import sys


        def dump():
            faulthandler.dump_traceback(sys.stderr, all_threads=True)
    """))
    (site / "shop" / "models.py").write_text(textwrap.dedent("""\
        import libdump


        def build():
            libdump.dump()  # the app's line


        build()
    """))
    app = tmp_path / "workdir"
    app.mkdir()
    return app, site


def test_the_targets_packages_are_the_app_wherever_installed(tmp_path: Path) -> None:
    app, site = _installed_app(tmp_path)
    models = str(site / "shop" / "models.py")
    assert not is_app_file(models, str(app))  # without the targets: a library like any
    assert is_app_file(models, str(app), packages=("shop",))
    assert is_app_file(str(site / "shop.py"), str(app), packages=("shop",))  # a module
    assert not is_app_file(str(site / "libdump.py"), str(app), packages=("shop",))
    assert not is_app_file(str(site / "shopping" / "x.py"), str(app), packages=("shop",))
    sqla = os.path.join(str(site), "sqlalchemy", "orm", "decl_api.py")
    assert not is_app_file(sqla, str(app), packages=("shop", "app"))  # dependencies stay
    # the folders the app's interpreter reports (an editable install, a namespace portion)
    elsewhere = tmp_path / "checkout" / "shop" / "models.py"
    assert is_app_file(str(elsewhere), str(app), roots=(str(tmp_path / "checkout" / "shop"),))
    assert locate.app_relative(models, str(app)) == os.path.join("shop", "models.py")
    assert locate.app_relative(str(elsewhere), str(app), (
        (str(tmp_path / "checkout" / "shop"), str(tmp_path / "checkout")),)) == os.path.join(
        "shop", "models.py")


def test_the_daemon_places_a_dump_inside_an_installed_app_package(tmp_path: Path) -> None:
    app, site = _installed_app(tmp_path)
    dump = subprocess.run([sys.executable, "-c", "import shop.models"], capture_output=True,
                          text=True, timeout=60, check=True, cwd=app,
                          env={**os.environ, "PYTHONPATH": str(site)}).stderr
    assert "libdump.py" in dump
    assert tracebacks.user_frame_from_dump(dump, str(app)) is None  # no target: not placed
    assert tracebacks.user_frame_from_dump(dump, str(app), ["shop.models:db"]) == (
        os.path.join("shop", "models.py"), 5)


def test_the_target_packages_are_their_top_level_names() -> None:
    assert locate.target_packages(["shop.models", "shop.db:db", "acme.billing.models",
                                   "flat"]) == ("shop", "acme", "flat")


def test_the_daemon_places_a_dump_in_a_package_folder_the_worker_reported(
        tmp_path: Path) -> None:
    """An editable install lives outside site-packages: the names alone cannot tell, the
    [folder, import base] pairs of the worker's hello can."""
    app, site = _installed_app(tmp_path)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (site / "shop").rename(checkout / "shop")  # the package is now only in the checkout
    dump = subprocess.run([sys.executable, "-c", "import shop.models"], capture_output=True,
                          text=True, timeout=60, check=True, cwd=app,
                          env={**os.environ,
                               "PYTHONPATH": os.pathsep.join([str(checkout), str(site)])}
                          ).stderr
    assert tracebacks.user_frame_from_dump(dump, str(app), ["shop.models"]) is None
    roots = [[os.path.realpath(checkout / "shop"), os.path.realpath(checkout)]]
    assert tracebacks.user_frame_from_dump(dump, str(app), ["shop.models"], roots) == (
        os.path.join("shop", "models.py"), 5)
