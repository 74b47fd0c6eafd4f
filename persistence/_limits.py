"""The sizes a store accepts: enforced when writing, with a clear error, and the same when reading.

A store refuses to *write* what it would refuse to *read* back, so that a
session never becomes unreadable by growing past a limit; and a reader never
reads more than a limit, so that a crafted file cannot exhaust memory.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_CHECKPOINT", "MAX_DOCUMENT", "MAX_LINE", "MAX_SMALL_FILE", "MIB", "describe_size"]

MIB: Final = 1 << 20

MAX_LINE: Final = 16 * MIB
"""One line of an event log: the header (which holds the session's configuration) or an event."""

MAX_DOCUMENT: Final = 2 * MAX_LINE + MIB
"""A session's document: its configuration (a header's worth) and its state (an event's worth)."""

MAX_CHECKPOINT: Final = 256 * MIB
"""A checkpoint file (the bounded progress of a session)."""

MAX_SMALL_FILE: Final = 64 * 1024
"""A store's small bookkeeping files: its marker, an owner's record."""


def describe_size(size: int) -> str:
    """``17.0 MiB``, ``512 bytes``: a size for messages."""
    return f"{size / MIB:.1f} MiB" if size >= MIB else f"{size} bytes"
