"""Records to and from the database: checks on what is written, JSON both ways.

What a caller hands a store is checked before anything is sent (a typed
``StorageError`` that changes nothing); what the database gives back is parsed
by the records' own pydantic models, and data that does not parse is a
``CorruptionError`` naming the session, never a stack of validation errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TypeVar

from pydantic import TypeAdapter, ValidationError

from statecharts import SessionState, TimestampedEvent

from .._errors import CorruptionError

__all__ = ["STATE", "event_json", "events_json", "parse"]

STATE: Final[TypeAdapter[SessionState]] = TypeAdapter(SessionState)
"""Parses any stored session state."""

_T = TypeVar("_T")


def event_json(session_id: str, event: TimestampedEvent) -> str:
    """One event as the JSON the append statements expand (``{"s": session, "b": event}``)."""
    return f'{{"s":"{session_id}","b":{event.model_dump_json()}}}'


def events_json(session_id: str, batch: Sequence[TimestampedEvent]) -> str:
    """A session's events as the JSON array :data:`.queries.INSERT_EVENTS` expands."""
    return "[" + ",".join(event_json(session_id, event) for event in batch) + "]"


def parse(
    kind: type[_T] | TypeAdapter[_T], text: str, session_id: str, damage: str, seq: int = 0
) -> _T:
    """``text`` parsed as ``kind``, or a ``CorruptionError`` naming the session (and seq)."""
    try:
        if isinstance(kind, TypeAdapter):
            return kind.validate_json(text)
        return kind.model_validate_json(text)  # type: ignore[attr-defined,no-any-return]
    except ValidationError as error:
        at = f" seq {seq}" if seq else ""
        raise CorruptionError(
            f"unreadable stored data{at}: {error.errors()[0]['msg']}",
            None,
            kind=damage,
            session_id=session_id,
        ) from None
