"""Helpers shared by the database tests (``tests.db.db_helpers``)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.helpers import assert_required_facts

APP_USER = "app"
# Characters that must be URL-quoted, so redaction of both forms is exercised.
APP_PASSWORD = "hunter2-S3cret@pg/x"


def assert_secret_free(*things: Any, password: str = APP_PASSWORD) -> None:
    """Neither the password nor its URL-quoted forms appear anywhere in what was emitted."""
    from urllib.parse import quote, quote_plus

    text = json.dumps(things, default=str)
    for form in {password, quote(password, safe=""), quote_plus(password),
                 json.dumps(password)[1:-1]}:
        assert form not in text, f"password leaked: {text[:500]}"


def codes(outcome: dict[str, Any]) -> list[str]:
    return [f["code"] for f in outcome["findings"]]


def only(outcome: dict[str, Any], code: str) -> dict[str, Any]:
    assert_required_facts(outcome["findings"])
    found = [f for f in outcome["findings"] if f["code"] == code]
    assert len(found) == 1, f"expected one {code}, got {codes(outcome)}"
    return found[0]


def incident_models() -> Any:
    """The incident's model after the fix, as MetaData: security_events.event_metadata, which
    a database before the rename migration still calls "metadata"."""
    import sqlalchemy as sa
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()

    class SecurityEvent(Base):
        __tablename__ = "security_events"
        id = sa.Column(sa.Integer, primary_key=True)
        kind = sa.Column(sa.String(40))
        event_metadata = sa.Column(sa.JSON, nullable=True)

    return Base.metadata
