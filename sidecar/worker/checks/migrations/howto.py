"""How the app runs its own migrations, as facts for the daemon's hints (MIG301, MIG304...).

Only what is known goes in: which tool (Flask-Migrate's ``flask db``, Alembic's CLI, or
Alembic's API for a config shipped inside a package whose ini names another database), the
folder to run it from, the config path, the environment variable env.py reads the URL from
and a value for it that is safe to print (the URL itself when it has no password, a reference
to a variable that holds it, or nothing).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...redact import redact_text, url_password
from .config import Resolved, option
from .envpy import EnvFacts

# Flask's CLI finds the app by itself in these files of the working directory (Flask 2+).
_FLASK_AUTODETECT = ("wsgi.py", "app.py")


def runner_facts(resolved: Resolved, cfg: Any, env: EnvFacts, app_path: str,
                 database_url: Optional[str], secrets: List[str],
                 fallback_paths: List[str],
                 packages: Sequence[Tuple[str, str]] = ()) -> Dict[str, Any]:
    candidate = resolved.candidate
    app_path = os.path.abspath(app_path)
    facts: Dict[str, Any] = {"python": sys.executable,
                             "alembic_own": _alembic_is_the_apps(fallback_paths)}
    if env.flask:
        facts["tool"] = "flask-migrate"
        facts["cwd"] = app_path
        folder = os.path.relpath(resolved.script_location, app_path)
        facts["directory"] = None if folder == "migrations" else _shown(
            resolved.script_location, app_path)
        facts["flask"] = _console_command("flask")
        facts.update(_flask_app(app_path, packages))
        return facts
    ini = candidate.path if candidate.kind != "dir" else None
    facts["cwd"] = _cwd(resolved, app_path)
    facts["config"] = _shown(ini, facts["cwd"]) if ini else None
    facts["alembic"] = _console_command("alembic")
    url_vars = env.url_vars
    facts["url_var"] = url_vars[0] if url_vars else None
    facts["other_env"] = [v for v in env.env_vars if v not in url_vars[:1]]
    facts.update(_url_value(facts["url_var"], database_url, secrets))
    ini_url = option(cfg, "sqlalchemy.url") if cfg is not None else None
    facts["api_sets_url"] = False
    facts["tool"] = "alembic" if ini else "alembic-api"  # no ini: the CLI has no config
    if not facts["url_var"] and env.exists and (env.reads_ini_url or ini_url):
        same = bool(ini_url) and bool(database_url) and _same_database(str(ini_url),
                                                                         str(database_url))
        if not same:
            # the ini names another database (optuna's ships sqlite:///alembic.db), or none:
            # the CLI would migrate that one, so set sqlalchemy.url (and the resolved
            # script_location) through Alembic's API
            facts["ini_url"] = redact_text(str(ini_url), secrets) if ini_url else None
            facts["tool"] = "alembic-api"
            facts["api_sets_url"] = True
            facts["url_var"] = "DATABASE_URL"
            facts.update(_url_value("DATABASE_URL", database_url, secrets))
    if facts["tool"] == "alembic-api":  # the API call takes absolute paths
        facts["cwd"] = app_path
    facts["script_location"] = resolved.script_location
    facts["ini_abs"] = ini
    facts["package"] = candidate.package
    return facts


def _alembic_is_the_apps(fallback_paths: List[str]) -> bool:
    """Alembic came from the app's environment, not sidecar's fallback finder (which serves
    only from folders that are not on the app's sys.path)."""
    import alembic

    package_dir = os.path.dirname(os.path.abspath(getattr(alembic, "__file__", "") or ""))
    on_path = {os.path.abspath(p or os.curdir) for p in sys.path}
    return os.path.dirname(package_dir) in on_path or not fallback_paths


def _console_command(name: str) -> str:
    """``alembic`` / ``flask`` when the app's interpreter's own console script is the one on
    PATH, else ``<python> -m alembic`` (runs wherever the app's package imports)."""
    found = shutil.which(name)
    if found and os.path.realpath(os.path.dirname(found)) == os.path.realpath(
            os.path.dirname(sys.executable)):
        return name
    return f"{sys.executable} -m {name}"


def _cwd(resolved: Resolved, app_path: str) -> str:
    """Where the app's tool must run: the folder a relative script_location is relative to
    (Alembic's CLI resolves it from the working directory), else the app path."""
    how = resolved.how
    if how.startswith("relative to the config's folder"):
        return resolved.candidate.folder
    if how.startswith(("relative to the folder holding the package", "relative to the package")):
        return _base_of(resolved)
    return app_path


def _base_of(resolved: Resolved) -> str:
    written = str(resolved.raw.get("script_location") or "")
    path = resolved.script_location
    for _ in [p for p in written.replace("\\", "/").split("/") if p and p != "."]:
        path = os.path.dirname(path)
    return path


def _shown(path: str, base: str) -> str:
    rel = os.path.relpath(path, base)
    return path if rel.startswith("..") else rel


def _url_value(var: Optional[str], database_url: Optional[str],
               secrets: List[str]) -> Dict[str, Any]:
    """What to put in ``var`` for the database the sidecar checked, without a secret."""
    if not var:
        return {"url_set": None, "url_value": None, "url_shown": None}
    if database_url and os.environ.get(var) == database_url:
        return {"url_set": True, "url_value": None, "url_shown": None}
    if not database_url:
        return {"url_set": bool(os.environ.get(var)), "url_value": None, "url_shown": None}
    if url_password(database_url) is None and not secrets:
        return {"url_set": False, "url_value": database_url, "url_shown": None}
    for name, value in sorted(os.environ.items()):
        if value == database_url and name != var:
            return {"url_set": False, "url_value": "$" + name, "url_shown": None}
    return {"url_set": False, "url_value": None,
            "url_shown": redact_text(database_url, secrets)}


def _same_database(a: str, b: str) -> bool:
    try:
        from ...compat import make_url  # sqlalchemy.engine has no make_url in 1.3

        ua, ub = make_url(a), make_url(b)
        return (ua.get_backend_name(), ua.host, ua.port, ua.database, ua.username) == (
            ub.get_backend_name(), ub.host, ub.port, ub.database, ub.username)
    except Exception:
        return False


def _flask_app(app_path: str, packages: Sequence[Tuple[str, str]]) -> Dict[str, Any]:
    """FLASK_APP as the app's shell would have it: set, in .flaskenv/.env, found by flask
    itself (wsgi.py, app.py, or an ``app``/``wsgi`` package in the working directory), or the
    models' top-level package when it defines the app (``create_app``, ``Flask(``)."""
    value = os.environ.get("FLASK_APP")
    if value:
        return {"flask_app": value, "flask_app_from": "environment"}
    for name in (".flaskenv", ".env"):
        found = _dotenv_value(os.path.join(app_path, name), "FLASK_APP")
        if found:
            return {"flask_app": found, "flask_app_from": name}  # set it: python-dotenv may
            # be missing, and then flask does not read the file
    for name in _FLASK_AUTODETECT:
        package = os.path.join(app_path, name[:-3], "__init__.py")
        for path in (os.path.join(app_path, name), package):
            if os.path.isfile(path) and _defines_flask_app(path):
                return {"flask_app": None, "flask_app_from": os.path.relpath(path, app_path)}
    for name, root in packages:
        init = os.path.join(root, "__init__.py")
        if _defines_flask_app(init):
            return {"flask_app": name, "flask_app_from": f"the package {name!r} defines the app"}
    return {"flask_app": None, "flask_app_from": None}


def _defines_flask_app(path: str) -> bool:
    """The module makes a Flask app flask's CLI can find (an app object or a factory)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    return "Flask(" in text or "def create_app" in text or "def make_app" in text


def _dotenv_value(path: str, key: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                name, sep, value = line.strip().partition("=")
                if sep and name.strip().replace("export ", "") == key:
                    return value.strip().strip("'\"") or None
    except OSError:
        return None
    return None
