"""What env.py does, read from its AST (it is never run: it may migrate, or need the app's
settings): the environment variables it reads, the options it sets at run time, whether it is
Flask-Migrate's."""

from __future__ import annotations

import ast
import os
from typing import Any, List, Optional, Tuple

# Options that decide where the revisions are: set at run time, they make the files that a
# static read sees differ from what the app's migrate step sees.
LOCATION_OPTIONS = ("version_locations", "script_location")
_SETTERS = ("set_main_option", "set_section_option", "set_alembic_option")
_URL_WORDS = ("URL", "URI", "DSN", "DATABASE", "DB_", "_DB", "SQLALCHEMY", "POSTGRES", "PG",
              "MYSQL")


class EnvFacts:
    def __init__(self, path: str) -> None:
        self.path = path
        self.exists = os.path.isfile(path)
        self.env_vars: List[str] = []  # os.environ[...] / .get / getenv names, in order
        self.runtime_sets: List[Tuple[str, int]] = []  # (option, line) set while it runs
        self.flask = False  # Flask-Migrate's env.py: the URL comes from the Flask app
        self.reads_ini_url = False  # reads sqlalchemy.url (engine_from_config / get_main_option)
        # several databases, each stamped with the same revisions in its own alembic_version:
        # "alembic" (alembic init -t multidb: the ini's `databases` option names them),
        # "flask" (flask db init --multidb: every SQLALCHEMY_BINDS key), else None
        self.multidb: Optional[str] = None
        self.parse_error: Optional[str] = None

    @property
    def url_vars(self) -> List[str]:
        """The variables that look like they carry the database URL."""
        return [v for v in self.env_vars if any(w in v.upper() for w in _URL_WORDS)]


def scan(path: str) -> EnvFacts:
    facts = EnvFacts(path)
    if not facts.exists:
        return facts
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, ValueError) as exc:
        facts.parse_error = f"{type(exc).__name__}: {exc}"
        return facts
    bind_names = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "bind_names":
            bind_names = True  # Flask-Migrate multidb's list of the bind keys it migrates
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names]
            module = getattr(node, "module", None) or ""
            if module.split(".")[0] in ("flask", "flask_migrate") or any(
                    n.split(".")[0] in ("flask", "flask_migrate") for n in names
                    if isinstance(node, ast.Import)):
                facts.flask = True
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            name = _string(_subscript_index(node))
            if name:
                _add(facts.env_vars, name)
        elif isinstance(node, ast.Call):
            _call(node, facts)
    if bind_names and facts.flask and facts.multidb is None:
        facts.multidb = "flask"
    return facts


def _call(node: ast.Call, facts: EnvFacts) -> None:
    func = node.func
    attr = func.attr if isinstance(func, ast.Attribute) else (
        func.id if isinstance(func, ast.Name) else "")
    args = node.args
    if attr == "getenv" or (attr in ("get", "pop", "setdefault") and isinstance(func, ast.Attribute)
                            and _is_environ(func.value)):
        name = _string(args[0]) if args else None
        if name:
            _add(facts.env_vars, name)
    elif attr in _SETTERS and args:
        position = 1 if attr == "set_section_option" else 0
        name = _string(args[position]) if len(args) > position else None
        if name in LOCATION_OPTIONS:
            facts.runtime_sets.append((str(name), node.lineno))
    elif attr == "ScriptDirectory" and any(k.arg == "version_locations" for k in node.keywords):
        facts.runtime_sets.append(("version_locations", node.lineno))
    elif attr == "engine_from_config" or (attr == "get_main_option" and args
                                          and _string(args[0]) == "sqlalchemy.url"):
        facts.reads_ini_url = True
    elif attr == "get_main_option" and args and _string(args[0]) == "databases":
        facts.multidb = "alembic"


def _is_environ(node: Any) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ")


def _subscript_index(node: ast.Subscript) -> Any:
    index: Any = node.slice
    if type(index).__name__ == "Index":  # Python 3.8 wraps it
        index = getattr(index, "value", index)
    return index


def _string(node: Any) -> Optional[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if type(node).__name__ == "Str":  # Python 3.7 AST, kept for safety  # pragma: no cover
        return getattr(node, "s", None)
    return None


def _add(names: List[str], name: str) -> None:
    if name not in names:
        names.append(name)
