"""Reading a server-sent event stream in tests: its messages, as dicts of their fields."""

from __future__ import annotations

import time
from typing import Any

import httpx

__all__ = ["read_stream"]


def _events(lines: list[str]) -> list[dict[str, Any]]:
    """The SSE messages in ``lines`` (each a dict of its fields)."""
    found: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in lines:
        if not line:
            if current:
                found.append(current)
            current = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            current[name] = value
    return found


def read_stream(url: str, headers: dict[str, str], until: int, timeout: float = 30) -> list[Any]:
    """The ``session-event`` and ``end`` messages of a stream, until ``until`` of them."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as answer:
        assert answer.status_code == 200, answer.read()
        for line in answer.iter_lines():
            lines.append(line)
            got = [m for m in _events(lines) if m.get("event") in ("session-event", "end")]
            if len(got) >= until or time.monotonic() > deadline:
                return got
    return [m for m in _events(lines) if m.get("event") in ("session-event", "end")]
