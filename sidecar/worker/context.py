"""State shared by the worker's checks within one run."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional


class Skip(Exception):
    """Raised by a check that cannot run; the message is the reason shown to users."""


class Context:
    def __init__(self, config: Dict[str, Any], emit_phase: Callable[[str], None]) -> None:
        self.config = config
        self.app_path: str = config["app_path"]
        self.emit_phase = emit_phase
        self.models_ok = False  # every target imported and mappers configured
        self.models_error: Optional[str] = None  # why not, for checks that depend on models
        self.metadatas: List[Any] = []  # discovered sqlalchemy MetaData objects
        self.shared: Dict[str, Any] = {}  # facts one check leaves for a later one


CheckOutcome = Dict[str, Any]  # {"findings": [raw, ...], "observed": {...}}
