"""Durations and moments as people type them: ``30m``, ``12h``, ``7d``, ``2w``, ``2026-11-29``.

One home for reading them, so that ``cook sessions --since`` and every other
option taking a duration or a moment read the same things, and say the same
thing about what they cannot read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = ["UNITS", "parse_duration", "parse_moment"]

UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
"""The units of a duration, in seconds."""
_DURATION: Final = re.compile(r"(\d{1,9})([smhdw])")
_LONGEST: Final = timedelta(days=36500)


def parse_duration(text: str) -> timedelta:
    """``7d`` as seven days; ``ValueError`` saying what is expected when it is not one."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"expected a duration such as 30m, 12h, 7d or 2w, not {text!r} (units: s, m, h, d, w)"
        )
    duration = timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])
    if duration > _LONGEST:
        raise ValueError(f"the duration {text!r} is longer than a hundred years")
    return duration


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """A moment: a duration ago (``7d``) or a date, or date and time (UTC unless it says)."""
    now = now or datetime.now(UTC)
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"expected a duration ago (30m, 12h, 7d, 2w) or a date (2026-11-29, "
            f"2026-11-29T13:00), not {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
