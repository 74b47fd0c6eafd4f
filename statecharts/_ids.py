"""Session ids: unique, URL- and path-safe, and sortable by creation time.

An id is a ULID (26 characters of Crockford base32: 48 bits of milliseconds, then
80 random bits).  Within one process, ids made in the same millisecond are made
monotonic by incrementing the random part, so sorting ids sorts sessions by
creation, which is what ``list_active_sessions`` and the CLI rely on.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from typing import NewType

__all__ = ["SESSION_ID_PATTERN", "SessionId", "is_session_id", "new_session_id"]

SessionId = NewType("SessionId", str)
"""The identifier of one session (a ULID string)."""

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SESSION_ID_PATTERN = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
"""What every id made by :func:`new_session_id` matches, whole (see :func:`is_session_id`)."""

_RANDOM_BITS = 80
_lock = threading.Lock()
_last: tuple[int, int] = (0, 0)


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_session_id() -> SessionId:
    """Return a new id, greater than every id this process made before."""
    global _last  # noqa: PLW0603 - one monotonic clock per process
    now = time.time_ns() // 1_000_000
    with _lock:
        last_ms, last_random = _last
        if now <= last_ms:
            now, random_part = last_ms, last_random + 1
        else:
            random_part = secrets.randbits(_RANDOM_BITS - 1)  # room to increment
        _last = (now, random_part)
    return SessionId(_encode(now, 10) + _encode(random_part, 16))


def is_session_id(value: object) -> bool:
    """Tell whether ``value`` has the shape of a session id (no path tricks possible).

    A full match: ``$`` would also match before a trailing newline, and
    ``"<id>\\n"`` would become a file name.
    """
    return isinstance(value, str) and SESSION_ID_PATTERN.fullmatch(value) is not None
