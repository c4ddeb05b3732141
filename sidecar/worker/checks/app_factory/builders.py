"""Where the getter finds its builder, so the race's gate can stand there: the names that
hold the factory when the getter runs.

- the --app-factory's own module attribute (a ``from server.app_factory import create_app``
  inside the getter, the incident's, reads it at call time) and every global of the
  getter's module bound to the same object;
- else the first call of the getter's build statement that resolves to a function or class
  of a module (``create_app()``, ``app_factory.create_app()``, ``Flask(__name__)``), through
  the getter's globals or its own function-level imports.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import types
from typing import Any, Dict, List, Optional, Tuple

from .race import Patch
from .shape import Shape
from .targets import Target


def patches(getter: Any, shape: Optional[Shape],
            factory: Optional[Target]) -> Tuple[List[Patch], Optional[str]]:
    """The names to gate, and how the builder is called (for the report)."""
    function = inspect.unwrap(getter)
    namespace: Dict[str, Any] = getattr(function, "__globals__", None) or {}
    out: List[Patch] = []
    label: Optional[str] = None
    if factory is not None:
        owner = _parent(factory)
        if owner is not None:
            out.append((owner, factory.attr.rsplit(".", 1)[-1]))
        out += [(namespace, name) for name, value in list(namespace.items())
                if value is factory.obj]
        label = factory.attr
    for call in shape.builder_calls() if shape is not None else ():
        found = _resolve(call.func, namespace, shape)
        if found is None or found[1] is getter or found[1] is function:
            continue
        (owner, name), obj = found
        if factory is None or obj is not factory.obj:
            out.append((owner, name))
        label = shape.text(call.func) if shape is not None else label
        break
    return _unique(out), label


def _parent(target: Target) -> Any:
    owner = target.module
    for part in target.attr.split(".")[:-1]:
        owner = getattr(owner, part, None)
    return owner


def _resolve(func: Any, namespace: Dict[str, Any],
             shape: Optional[Shape]) -> Optional[Tuple[Patch, Any]]:
    """((owner, name), the callable) for a call's ``func``, or None (a builtin, a method
    of an instance, a name that resolves to nothing)."""
    if isinstance(func, ast.Name):
        imported = _imported(func.id, namespace, shape)
        if imported is not None:
            return imported if _buildable(imported[1]) else None
        if func.id in namespace and _buildable(namespace[func.id]):
            return (namespace, func.id), namespace[func.id]
        return None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        base = _imported(func.value.id, namespace, shape)
        owner = base[1] if base is not None else namespace.get(func.value.id)
        if isinstance(owner, (types.ModuleType, type)):
            value = getattr(owner, func.attr, None)
            if _buildable(value):
                return (owner, func.attr), value
    return None


def _imported(name: str, namespace: Dict[str, Any],
              shape: Optional[Shape]) -> Optional[Tuple[Patch, Any]]:
    """What a function-level import binds ``name`` to: ``from m import name`` gives
    (module m, its attribute), ``import m as name`` the module itself."""
    for stmt in shape.local_imports() if shape is not None else ():
        for alias in stmt.names:
            bound = alias.asname or alias.name.split(".")[0]
            if bound != name:
                continue
            try:
                if isinstance(stmt, ast.ImportFrom):
                    module = importlib.import_module(importlib.util.resolve_name(
                        "." * stmt.level + (stmt.module or ""), namespace.get("__package__"))
                        if stmt.level else stmt.module or "")
                    return (module, alias.name), getattr(module, alias.name, None)
                module = importlib.import_module(alias.name)
                return (namespace, name), module
            except Exception:  # the getter's own call will raise it, and be classified
                return None
    return None


def _buildable(value: Any) -> bool:
    return callable(value) and not isinstance(
        value, (types.BuiltinFunctionType, types.BuiltinMethodType, types.ModuleType))


def _unique(patches: List[Patch]) -> List[Patch]:
    out: List[Patch] = []
    for owner, name in patches:
        if not any(o is owner and n == name for o, n in out):
            out.append((owner, name))
    return out
