"""``module:callable`` of --app-factory / --app-getter: imported as the app imports it.

A target that is not there (no such module, no such attribute, not callable, or callable
only with arguments) is a finding naming the option, never a traceback; an exception raised
while its module imports is classified like any other import of the app's code.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any, Dict, List, Optional

from ...protocol import finding
from ...source import locate
from . import calls


class Target:
    """A resolved callable and where it lives."""

    def __init__(self, spec: str, option: str, module: Any, obj: Any) -> None:
        self.spec = spec  # "server.app_factory:create_app"
        self.option = option  # "--app-factory"
        self.module = module
        self.obj = obj

    @property
    def module_name(self) -> str:
        return self.spec.partition(":")[0]

    @property
    def attr(self) -> str:
        return self.spec.partition(":")[2]

    def reproduce(self, app_path: str, times: int = 1) -> str:
        """A shell command that makes the same call(s) outside sidecar."""
        call = "%s.%s()" % (self.module_name, self.attr)
        return calls.shell_command(app_path, ["import %s" % self.module_name]
                                   + [call] * times)


def resolve(spec: str, option: str, app_path: str, locator: locate.Locator,
            out: List[Any]) -> Optional[Target]:
    """The target, or None with the reason added to ``out`` (raw findings)."""
    module_name, _, attr = spec.partition(":")
    module_name = locate.canonical_module(module_name)  # never one file under two names
    outcome = calls.call(lambda: importlib.import_module(module_name))
    failed = outcome.error is not None
    for raw in calls.classify(outcome, spec, locator, app_path,
                              "import %s" % module_name):
        if raw["code"] == "SQLA115":  # the target's own module is not there
            raw = _missing(spec, option, "module", raw["message"], exception=raw["exception"])
        out.append(raw)
    if failed:
        return None
    module = outcome.value
    obj = module
    for depth, part in enumerate(attr.split(".")):
        if not hasattr(obj, part):
            owner = ".".join([module_name, *attr.split(".")[:depth]])
            closest = difflib.get_close_matches(part, [n for n in dir(obj)
                                                       if not n.startswith("__")], 1)
            filename = getattr(module, "__file__", None)
            out.append(_missing(
                spec, option, "attribute", "%s has no attribute %r" % (owner, part),
                exception="AttributeError", closest=closest[0] if closest else None,
                file=locator.relative(filename) if filename else None))
            return None
        obj = getattr(obj, part)
    if not callable(obj):
        out.append(_missing(spec, option, "callable", "%s is a %s, not a callable" % (
            spec, type(obj).__name__)))
        return None
    required = _required_parameters(obj)
    if required:
        out.append(_missing(spec, option, "arguments", "%s() needs %s" % (
            spec, ", ".join(required)), parameters=", ".join(required), **_defined_at(
                obj, locator)))
        return None
    return Target(spec, option, module, obj)


def _missing(spec: str, option: str, missing: str, message: str,
             exception: Optional[str] = None, closest: Optional[str] = None,
             parameters: Optional[str] = None, **where: Any) -> Dict[str, Any]:
    """SQLA184: ``missing`` is module, attribute, callable or arguments."""
    facts: Dict[str, Any] = {"target": spec, "option": option, "missing": missing}
    if closest is not None:
        facts["closest"] = closest
    if parameters is not None:
        facts["parameters"] = parameters
    return finding("SQLA184", message, exception=exception, facts=facts, **where)


def _required_parameters(obj: Any) -> List[str]:
    """Parameters without a default: the check calls with none (``create_app(config)``)."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # a builtin or an odd callable: try the call
        return []
    return [p.name for p in signature.parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                   p.KEYWORD_ONLY)]


def _defined_at(obj: Any, locator: locate.Locator) -> Any:
    code = getattr(inspect.unwrap(obj), "__code__", None)
    if code is None or not locator.is_user_file(code.co_filename):
        return {}
    return {"file": locator.relative(code.co_filename), "line": code.co_firstlineno}
