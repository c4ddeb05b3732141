"""Where the app keeps its migrations, and where they resolve, found the way its own tool does.

Candidates, in this order (the first one is used; the others are named in ``observed``):

1. ``--alembic-ini`` / ``SIDECAR_ALEMBIC_INI`` (an ini, a pyproject.toml, or a folder);
2. ``alembic.ini`` at the app path;
3. ``pyproject.toml`` with ``[tool.alembic]`` at the app path (Alembic 1.16+);
4. a Flask-Migrate folder at the app path: ``migrations/`` (Flask-Migrate's default), then
   any other direct subfolder holding ``alembic.ini`` and ``env.py``; then an ``alembic.ini``
   in any other direct subfolder (``db/alembic.ini``);
5. an ``alembic.ini`` shipped inside the top-level packages of the ``--models`` targets
   (installed or not: ``optuna/storages/_rdb/alembic.ini``), shallowest first, those in a
   ``tests/`` folder last;
6. a migrations folder without an ini inside those packages (``env.py`` beside ``versions/``:
   apps that build Alembic's Config in code).

``script_location`` resolves as the app's tool would: absent in a folder that holds env.py →
that folder (Flask-Migrate sets it to its directory at run time); ``package:path`` → inside
the importable package; relative → the ini's folder, then the working directory, then the
app path, then the package roots; ``%(here)s`` is Alembic's own interpolation.
"""

from __future__ import annotations

import importlib.util
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

# Folders never searched inside a package: caches, VCS data, vendored JavaScript.
_PRUNE = {"__pycache__", "node_modules", ".git", ".hg", ".tox", ".venv", "site-packages"}
_MAX_DIRS = 4000  # per package: a huge package is searched this far, then given up on
_LEGACY_SPLIT = re.compile(r", *|(?: +)")  # Alembic's split without a path_separator
_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}


class ConfigProblem(Exception):
    """The config was found but does not resolve; the message says what and where."""


class Candidate:
    """One place where migrations may live."""

    def __init__(self, path: str, kind: str, found_by: str,
                 package: Optional[str] = None) -> None:
        self.path = path  # the ini / pyproject.toml, or the folder itself (kind "dir")
        self.kind = kind  # "ini" | "toml" | "dir"
        self.found_by = found_by
        self.package = package  # the top-level package it was found in

    @property
    def folder(self) -> str:
        return self.path if self.kind == "dir" else os.path.dirname(self.path)

    def __repr__(self) -> str:  # for test failures
        return f"Candidate({self.path!r}, {self.kind!r}, {self.found_by!r})"


class Resolved:
    """A candidate resolved to folders: the script directory and the version locations."""

    def __init__(self, candidate: Candidate, script_location: str, how: str,
                 version_locations: Optional[List[str]], raw: Dict[str, Any],
                 recursive: bool = False, sourceless: bool = False) -> None:
        self.candidate = candidate
        self.script_location = script_location
        self.how = how  # how script_location was resolved, one phrase
        self.version_locations = version_locations  # None: <script_location>/versions
        self.raw = raw  # the options as written (script_location, version_locations)
        self.recursive = recursive
        self.sourceless = sourceless

    @property
    def version_dirs(self) -> List[str]:
        return self.version_locations or [os.path.join(self.script_location, "versions")]


def package_dirs(models: Sequence[str]) -> List[Tuple[str, str]]:
    """(top-level package name, folder) for each --models target's top-level package."""
    out: List[Tuple[str, str]] = []
    for target in models:
        name = str(target).split(":")[0].split(".")[0].strip()
        if not name:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except Exception:  # a target that does not import is the models check's finding
            continue
        locations = list(getattr(spec, "submodule_search_locations", None) or []) if spec else []
        for folder in locations:  # several for a namespace package
            folder = os.path.abspath(folder)
            if os.path.isdir(folder) and (name, folder) not in out:
                out.append((name, folder))
    return out


def find_candidates(app_path: str, configured: Optional[str],
                    packages: Sequence[Tuple[str, str]]) -> List[Candidate]:
    """Every candidate, in the order above (the first one is used)."""
    out: List[Candidate] = []
    if configured:
        path = configured if os.path.isabs(configured) else os.path.join(app_path, configured)
        kind = ("dir" if os.path.isdir(path) else
                "toml" if path.endswith(".toml") else "ini")
        if kind == "dir" and os.path.isfile(os.path.join(path, "alembic.ini")):
            path, kind = os.path.join(path, "alembic.ini"), "ini"
        out.append(Candidate(path, kind, "--alembic-ini / SIDECAR_ALEMBIC_INI"))
    ini = os.path.join(app_path, "alembic.ini")
    if os.path.isfile(ini):
        out.append(Candidate(ini, "ini", "alembic.ini at the app path"))
    toml = os.path.join(app_path, "pyproject.toml")
    if os.path.isfile(toml) and _has_tool_alembic(toml):
        out.append(Candidate(toml, "toml", "[tool.alembic] in pyproject.toml at the app path"))
    for folder in _flask_migrate_folders(app_path):
        out.append(Candidate(os.path.join(folder, "alembic.ini"), "ini",
                             "Flask-Migrate folder at the app path"
                             if is_flask_env(os.path.join(folder, "env.py"))
                             else "migrations folder (alembic.ini + env.py) at the app path"))
    for folder in _subfolders(app_path):  # a deploy layout: db/alembic.ini, backend/...
        ini = os.path.join(folder, "alembic.ini")
        if (os.path.isfile(ini) and not os.path.isfile(os.path.join(folder, "env.py"))
                and not _in_tests(os.path.basename(folder))):  # a test fixture's, not the app's
            out.append(Candidate(ini, "ini", "alembic.ini in a subfolder of the app path"))
    inis: List[Tuple[int, str, str, str]] = []  # (depth, path, package, package folder)
    folders: List[Tuple[int, str, str, str]] = []
    for name, root in packages:
        for dirpath, filenames in _walk(root):
            depth = dirpath[len(root):].count(os.sep)
            if "alembic.ini" in filenames:
                inis.append((depth, os.path.join(dirpath, "alembic.ini"), name, root))
            elif ("env.py" in filenames and os.path.isdir(os.path.join(dirpath, "versions"))
                  and not os.path.isfile(os.path.join(os.path.dirname(dirpath),
                                                      "alembic.ini"))):  # that ini's folder
                folders.append((depth, dirpath, name, root))
    for _, _, path, name in sorted((_in_tests(os.path.relpath(p, r)), d, p, n)
                                   for d, p, n, r in inis):
        flask = is_flask_env(os.path.join(os.path.dirname(path), "env.py"))
        out.append(Candidate(path, "ini", f"{'Flask-Migrate folder' if flask else 'alembic.ini'} "
                             f"inside the package {name!r}", name))
    for _, _, path, name in sorted((_in_tests(os.path.relpath(p, r)), d, p, n)
                                   for d, p, n, r in folders):
        out.append(Candidate(path, "dir", f"migrations folder (env.py + versions/) inside "
                             f"the package {name!r}", name))
    seen = set()
    unique = []
    for c in out:  # the same file found twice (the app path is a package's folder too)
        key = os.path.realpath(c.path)
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique


def _in_tests(path: str) -> bool:
    """A test suite's config (fixtures of the package's own tests) ranks after the others;
    ``path`` is relative to the package (or a folder name), not the whole path."""
    return any(part in ("tests", "test", "testing") for part in path.split(os.sep))


def _has_tool_alembic(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return re.search(r"^\s*\[tool\.alembic[\].]", f.read(), re.M) is not None
    except OSError:
        return False


def _flask_migrate_folders(app_path: str) -> List[str]:
    def shaped(folder: str) -> bool:
        return all(os.path.isfile(os.path.join(folder, f)) for f in ("alembic.ini", "env.py"))

    default = os.path.join(app_path, "migrations")
    found = [default] if shaped(default) else []
    return found + [f for f in _subfolders(app_path) if f != default and shaped(f)]


def _subfolders(app_path: str) -> List[str]:
    try:
        names = sorted(os.listdir(app_path))
    except OSError:
        return []
    return [os.path.join(app_path, n) for n in names
            if not n.startswith(".") and n not in _PRUNE
            and os.path.isdir(os.path.join(app_path, n))]


def _walk(root: str) -> List[Tuple[str, List[str]]]:
    out: List[Tuple[str, List[str]]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _PRUNE and not d.startswith("."))
        out.append((dirpath, filenames))
        if len(out) >= _MAX_DIRS:
            break
    return out


def is_flask_env(env_py: str) -> bool:
    """env.py is Flask-Migrate's (it takes the app's engine from ``current_app``)."""
    try:
        with open(env_py, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    return "current_app" in text and "flask" in text


def load_config(candidate: Candidate) -> Any:
    """Alembic's Config for the candidate (None for a folder without a config file)."""
    from alembic.config import Config

    if candidate.kind == "dir":
        return None
    if candidate.kind == "toml":
        try:
            return Config(toml_file=candidate.path)
        except TypeError:  # Alembic < 1.16 reads no pyproject.toml
            import alembic

            raise ConfigProblem(
                f"{candidate.path}: [tool.alembic] needs Alembic 1.16 or later; the app has "
                f"Alembic {getattr(alembic, '__version__', '?')}") from None
    return Config(candidate.path)


def option(cfg: Any, name: str) -> Any:
    """An [alembic] option (or [tool.alembic] in pyproject.toml), None if absent."""
    if cfg is None:
        return None
    getter = getattr(cfg, "get_alembic_option", None) or cfg.get_main_option
    return getter(name)


def resolve(candidate: Candidate, cfg: Any, app_path: str,
            packages: Sequence[Tuple[str, str]]) -> Resolved:
    """The folders the candidate's tool would read; ConfigProblem if they do not exist."""
    if candidate.kind != "dir" and not os.path.isfile(candidate.path):
        raise ConfigProblem(f"{candidate.path} does not exist")
    bases = _bases(candidate, app_path, packages)
    raw_location = option(cfg, "script_location")
    raw: Dict[str, Any] = {"script_location": raw_location}
    if not raw_location:
        folder = candidate.folder
        if not os.path.isfile(os.path.join(folder, "env.py")):
            raise ConfigProblem(f"{candidate.path} has no script_location, and there is no "
                                f"env.py beside it to take its folder as the script location")
        how = ("the migrations folder itself: script_location is absent, Flask-Migrate sets "
               "it at run time" if is_flask_env(os.path.join(folder, "env.py"))
               else "the config's own folder: script_location is absent, env.py is there")
        if candidate.kind == "dir":
            how = "the folder itself, with env.py and versions/"
        location = folder
    else:
        location, how = _resolve_path(str(raw_location), bases, "script_location",
                                      candidate.path)
        if "%(here)s" in (_uninterpolated(cfg, "script_location") or ""):
            how = "%(here)s, the config's folder"
    versions: Optional[List[str]] = None
    written = _version_locations(cfg)
    raw["version_locations"] = written
    if written:
        versions = [_resolve_path(entry, bases, "version_locations", candidate.path)[0]
                    for entry in written]
    recursive = str(option(cfg, "recursive_version_locations") or "").lower() in ("true", "1")
    sourceless = str(option(cfg, "sourceless") or "").lower() in ("true", "1")
    return Resolved(candidate, location, how, versions, raw, recursive, sourceless)


def _uninterpolated(cfg: Any, name: str) -> Optional[str]:
    try:
        section = getattr(cfg, "config_ini_section", "alembic")
        return str(cfg.file_config.get(section, name, raw=True))
    except Exception:  # absent, or pyproject.toml (its value is already a plain string)
        return None


def _version_locations(cfg: Any) -> Optional[List[str]]:
    """version_locations as Alembic splits it (path_separator, version_path_separator, or
    the legacy split on spaces and commas)."""
    if cfg is None:
        return None
    value = None
    with _quiet():
        section = getattr(cfg, "config_ini_section", "alembic")
        if cfg.file_config.has_option(section, "version_locations"):
            value = cfg.file_config.get(section, "version_locations")
        elif hasattr(cfg, "get_version_locations_list"):
            listed = cfg.get_version_locations_list()  # [tool.alembic] gives a list
            return [str(v) for v in listed] if listed else None
    if not value:
        return None
    for name in ("path_separator", "version_path_separator"):
        sep = cfg.get_main_option(name)
        if sep:
            if sep not in _SEPARATORS:
                raise ConfigProblem(f"{name} = {sep!r} is not one of Alembic's separators "
                                    "(space, newline, os, ':', ';')")
            return [v.strip() for v in value.split(_SEPARATORS[sep]) if v.strip()]
    return [v for v in _LEGACY_SPLIT.split(value.strip()) if v]


class _quiet:
    """Alembic warns (deprecations) while reading some options; not the app's problem here."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: Any) -> None:
        self._catch.__exit__(*exc)


def _bases(candidate: Candidate, app_path: str,
           packages: Sequence[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """(folder, phrase) a relative path is tried against, in order."""
    bases = [(candidate.folder, "the config's folder"), (os.getcwd(), "the working directory"),
             (os.path.abspath(app_path), "the app path")]
    for name, root in packages:
        bases.append((root, f"the package {name!r}"))
        bases.append((os.path.dirname(root), f"the folder holding the package {name!r}"))
    seen = set()
    out = []
    for folder, phrase in bases:
        if folder not in seen:
            seen.add(folder)
            out.append((folder, phrase))
    return out


def _resolve_path(value: str, bases: Sequence[Tuple[str, str]], name: str,
                  config: str) -> Tuple[str, str]:
    """(absolute folder, how it was found) for a script_location / version_locations entry."""
    value = value.strip()
    if os.path.isabs(value):
        if os.path.isdir(value):
            return os.path.normpath(value), "an absolute path"
        raise ConfigProblem(f"{name} = {value} in {config}: that folder does not exist")
    if ":" in value:  # Alembic's package resource form, package:path
        package, _, sub = value.partition(":")
        try:
            spec = importlib.util.find_spec(package)
        except Exception as exc:
            raise ConfigProblem(f"{name} = {value} in {config}: the package {package!r} does "
                                f"not import ({type(exc).__name__}: {exc})") from None
        roots = list(getattr(spec, "submodule_search_locations", None) or []) if spec else []
        for root in roots:
            folder = os.path.join(root, *sub.split(":"))
            if os.path.isdir(folder):
                return os.path.normpath(folder), f"the package resource {value}"
        raise ConfigProblem(f"{name} = {value} in {config}: " + (
            f"no folder {sub!r} in the package {package!r}" if roots else
            f"{package!r} is not an importable package"))
    for folder, phrase in bases:
        candidate = os.path.normpath(os.path.join(folder, value))
        if os.path.isdir(candidate):
            return candidate, f"relative to {phrase}"
    tried = ", ".join(folder for folder, _ in bases)
    raise ConfigProblem(f"{name} = {value} in {config}: no such folder relative to {tried}")
