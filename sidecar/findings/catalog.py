"""Finding codes as data: what an entry is, how its hint is rendered, how a raw finding becomes
a Finding.

The worker decides *what* happened (a code plus facts: file, line, class, attribute, table,
column, and a few named extra values); the catalog decides *how to say it*: title, default
severity, the hint that fixes it and the section of docs/findings.md. Each code family lives
in its own module under ``sidecar/findings/codes/`` and imports only this one;
``sidecar.findings.registry`` puts the families together. Codes never change meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.findings.model import Finding, Severity

RawFinding = Mapping[str, Any]
HintFn = Callable[["Facts"], str]

SEVERITIES = ("error", "warning", "info")
# Top-level fields of every finding. A hint may read them without declaring them: an absent
# one reads as "?" in a template, ``location`` and ``obj`` have wordings of their own.
FIELDS = ("file", "line", "class", "attribute", "table", "column", "fix_sql", "location", "obj")


class UndeclaredFact(LookupError):
    """A hint read a fact its entry does not declare (a bug in the catalog, not the app).

    Not a KeyError: ``Mapping.get`` and ``in`` would swallow that.
    """


@dataclass(frozen=True)
class Entry:
    """One finding code: everything the daemon says about it, and the facts it needs."""

    code: str
    title: str
    severity: Severity  # the default; ``--severity CODE=LEVEL`` overrides it
    check: str  # the check that reports it
    hint: str | HintFn  # a ``str.format`` template over Facts, or a function of Facts
    facts: tuple[str, ...] = ()  # the worker always sends these with this code
    optional: tuple[str, ...] = ()  # the hint uses these when the worker sends them
    # example values (of fields or facts) where ``{name}`` will not do for the docs' hint
    # shape and the render test: a structured fact, or values that pick the usual wording
    samples: Mapping[str, Any] = field(default_factory=dict)
    explanation: str = ""  # the docs section: what it means, why, how to fix, an example
    check_note: str = ""  # where else it shows up, after the check's name in the docs

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.code}: severity {self.severity!r}")
        overlap = (set(self.facts) & set(self.optional)) | (
            set(FIELDS) & (set(self.facts) | set(self.optional)))
        if overlap:
            raise ValueError(f"{self.code}: {sorted(overlap)} declared twice")
        unknown = set(self.samples) - set(FIELDS) - set(self.facts) - set(self.optional)
        if unknown:
            raise ValueError(f"{self.code}: samples of undeclared facts {sorted(unknown)}")

    @property
    def docs(self) -> str:
        return f"docs/findings.md#{self.code.lower()}"

    def render_hint(self, raw: RawFinding) -> str:
        facts = Facts(raw, self)
        if callable(self.hint):
            return self.hint(facts)
        template = self.hint
        for name in (*self.facts, *self.optional):
            value = facts.get(name)
            if value == "" or (value is None and name in self.optional):
                template = template.replace(f"{{{name}}} ", "")  # no gap where it would be
        return template.format_map(facts)


class Facts(Mapping[str, Any]):
    """What a hint may read: the finding's fields and the facts its entry declares.

    Reading any other name raises UndeclaredFact, so a hint cannot quietly depend on a fact
    nobody sends. A declared fact the worker did not send reads as None from ``get``; in a
    template it is "?" when required (a visible gap) and "" when optional.
    """

    def __init__(self, raw: RawFinding, entry: Entry) -> None:
        self._raw = raw
        self._facts: Mapping[str, Any] = raw.get("facts") or {}
        self._entry = entry

    def get(self, key: str, default: Any = None) -> Any:
        if key == "location":
            return _location(self._raw)
        if key == "obj":
            return _obj(self._raw)
        if key in FIELDS:
            value = self._raw.get(key)
        elif key in self._entry.facts or key in self._entry.optional:
            value = self._facts.get(key)
        else:
            raise UndeclaredFact(f"{self._entry.code}'s hint reads {key!r}, which the entry "
                                 "does not declare (facts= or optional=)")
        return default if value is None else value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            return "" if key in self._entry.optional else "?"
        return value

    def __iter__(self) -> Iterator[str]:
        return iter((*FIELDS, *self._entry.facts, *self._entry.optional))

    def __len__(self) -> int:
        return len(FIELDS) + len(self._entry.facts) + len(self._entry.optional)


def _location(raw: RawFinding) -> str:
    if not raw.get("file"):
        return "the model package"
    return f"{raw['file']}:{raw['line']}" if raw.get("line") else str(raw["file"])


def _obj(raw: RawFinding) -> str:
    if raw.get("class"):
        return f"{raw['class']}.{raw['attribute']}" if raw.get("attribute") else str(raw["class"])
    if raw.get("table"):
        return f"{raw['table']}.{raw['column']}" if raw.get("column") else str(raw["table"])
    return "the model"


@dataclass(frozen=True)
class Family:
    """A group of codes with one prefix, and the docs text that introduces them."""

    prefix: str  # "SQLA1xx": the code's letters, then its hundreds digit
    title: str  # "the model definition"
    summary: str  # a sentence after the title, in the docs' list of families
    intro: str  # markdown before the family's codes in the docs
    entries: tuple[Entry, ...]


class Catalog(Mapping[str, Entry]):
    """Every code of the given families; unknown codes fall back to ``generic``."""

    def __init__(self, families: Iterable[Family], generic: str) -> None:
        self.families = tuple(families)
        self._entries: dict[str, Entry] = {}
        for family in self.families:
            for entry in family.entries:
                self.register(entry)
        self.generic = self._entries[generic]

    def register(self, entry: Entry) -> None:
        if entry.code in self._entries:
            raise ValueError(f"duplicate finding code {entry.code}")
        self._entries[entry.code] = entry

    def __getitem__(self, code: str) -> Entry:
        return self._entries[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, code: Any) -> Entry:
        return self._entries.get(str(code), self.generic)

    def severities(self, overrides: Mapping[str, Severity] | None = None
                   ) -> dict[str, Severity]:
        """Every code's effective severity: the default unless ``--severity`` changed it."""
        return {code: (overrides or {}).get(code) or entry.severity
                for code, entry in self._entries.items()}

    def to_finding(self, raw: RawFinding,
                   severity_overrides: Mapping[str, Severity] | None = None) -> Finding:
        """Turn the worker's raw finding into a Finding; unknown codes get the generic entry."""
        entry = self.lookup(raw.get("code"))
        severity = ((severity_overrides or {}).get(entry.code) or raw.get("severity")
                    or entry.severity)
        return Finding.from_dict({
            **raw,
            "code": entry.code,
            "severity": severity,
            "title": raw.get("title") or entry.title,
            "message": str(raw.get("message") or entry.title),
            "hint": raw.get("hint") or entry.render_hint(raw),
            "docs": entry.docs,
        })
