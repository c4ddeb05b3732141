"""`sidecar demo`: the whole product on the bundled example, with nothing to set up.

A copy of the example backend in a temporary folder, its models carrying the incident's
reserved ``metadata`` attribute, and a SQLite database at the copy's head, migration 0001:
the rename migration (the incident's Migration 70, the example's 0002) was never written.
Edit the copy and watch the daemon follow: fix the attribute, and the next finding is the
column the models renamed without a migration; ``sidecar revision`` writes that migration,
the app's own ``alembic upgrade head`` applies it, and the daemon turns ready.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sidecar.settings import ConfigError, Settings

# package data (pyproject's [tool.setuptools.package-data]): in a wheel as in a checkout
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "backend"


def prepare(workdir: Path) -> tuple[Path, str]:
    """(app path, database URL) of a fresh demo in ``workdir``."""
    import importlib.util

    if importlib.util.find_spec("flask_sqlalchemy") is None:
        raise ConfigError("demo: the bundled example is a Flask-SQLAlchemy app; install it "
                          "with `pip install 'sqla-sidecar[demo]'` (or `pip install "
                          "Flask-SQLAlchemy`)")
    good, broken = EXAMPLES / "good", EXAMPLES / "broken_reserved"
    if not (good / "alembic.ini").exists() or not (broken / "server").is_dir():
        raise ConfigError(f"demo: the bundled example is missing at {EXAMPLES} (the "
                          "package was installed without its data files)")
    app = workdir / "app"
    shutil.copytree(good, app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(broken / "server" / "models_sql.py", app / "server" / "models_sql.py")
    if (broken / "asgi.py").is_file():  # the incident's unguarded get_flask_app()
        shutil.copy(broken / "asgi.py", app / "asgi.py")
    for rename in app.glob("*/versions/0002_*.py"):  # the example's script folder
        rename.unlink()  # the migration the incident's team had to write: the demo writes it
    database = workdir / "demo.db"
    url = f"sqlite:///{database}"
    env = dict(os.environ, DATABASE_URL=url, PYTHONDONTWRITEBYTECODE="1")
    # the demo's own database, built with the example's migrations from the good variant
    proc = subprocess.run([sys.executable, "-m", "alembic", "-c", str(good / "alembic.ini"),
                           "upgrade", "0001"], capture_output=True, text=True, env=env,
                          cwd=good)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise ConfigError(f"demo: could not build the demo database: {tail}")
    return app, url


def demo_settings(base: Settings, app: Path, url: str) -> Settings:
    """The demo's own app, models, database and Alembic config (the demo has no options for
    them); everything else as given, with the demo's defaults (sidecar.settings)."""
    return dataclasses.replace(
        base, app_path=app, models=("server.models_sql", "server.models_plain"),
        database_url=url, alembic_ini=str(app / "alembic.ini"))


def repair_commands(settings: Settings, app: Path) -> list[str]:
    """The walkthrough's last two steps, as a shell runs them: write the rename migration,
    then apply it with the app's own Alembic (its env.py reads DATABASE_URL)."""
    import shlex

    python = shlex.quote(sys.executable)
    models = " ".join(f"--models {m}" for m in settings.models)
    url = shlex.quote(str(settings.database_url))
    return [f"{python} -m sidecar revision --app-path {shlex.quote(str(app))} {models} "
            f"--database-url {url} -m 'rename security_events.metadata'",
            f"cd {shlex.quote(str(app))} && DATABASE_URL={url} {python} -m alembic upgrade head"]


def banner(settings: Settings, app: Path) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    base = f"http://{host}:{settings.port}"
    models = app / "server" / "models_sql.py"
    revision, upgrade = repair_commands(settings, app)
    if settings.getter_target:
        race = (f"With --app-getter, step 1 also brings the incident's other fault: "
                f"{settings.getter_target} builds a second app when two threads call it "
                f"at once (SQLA182, with the lock to add in {app / 'asgi.py'}).\n")
    else:
        race = ("`sidecar demo --app-getter asgi:get_flask_app` also shows the incident's "
                "other fault: the getter two threads can both build the app in.\n")
    return f"""
sidecar demo — the incident's backend, served from {app}
  database: {settings.database_url} (at migration 0001; the rename migration was never written)

  curl {base}/readyz?verbose      readiness, Kubernetes style
  curl {base}/diagnose            the report on-call reads (open it in a browser too)
  curl {base}/metrics             Prometheus metrics

1. Fix the model and watch the report change (no restart needed): the next finding is the
   column the models now name, which no migration ever renamed (DRIFT414)
  sed -i 's/^    metadata = db.Column(db.JSON/    event_metadata = db.Column(db.JSON/' {models}
2. Write the migration that renames it (an alter_column, never drop + add):
  {revision}
3. Apply it the way the app does, and the daemon turns ready:
  {upgrade}
{race}Ctrl-C stops the demo and removes the temporary folder.
"""


def run(base: Settings, once: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="sidecar-demo-") as tmp:
        app, url = prepare(Path(tmp))
        settings = demo_settings(base, app, url)
        if once:
            from sidecar.cycle.diagnosis import diagnose
            from sidecar.render.text import render

            report = asyncio.run(diagnose(settings))
            sys.stdout.write(render(report, colour=sys.stdout.isatty()))
            return 1 if report.has_errors() else 0
        from sidecar.daemon.main import serve

        sys.stderr.write(banner(settings, app))
        return serve(settings)
