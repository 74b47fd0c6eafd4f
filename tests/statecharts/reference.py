"""A plain reference table of the session lifecycle, written from the issue's table.

It is deliberately independent of the chart: the tests compare the chart, the
compiled fold and the manager against it.
"""

from __future__ import annotations

from typing import Any

# configuration (dotted) -> event -> target configuration (None: unchanged)
LEGAL: dict[str, dict[str, str | None]] = {
    "created": {"started": "running.idle", "failed": "failed"},
    "running.idle": {
        "iteration_started": "running.iterating",
        "command_executed": None,
        "analysis_completed": None,
        "paused": "paused",
        "completed": "completed",
        "failed": "failed",
    },
    "running.iterating": {
        "iteration_completed": "running.idle",
        "command_executed": None,
        "analysis_completed": None,
        "paused": "paused",
        "failed": "failed",
    },
    "paused": {"resumed": "<history>", "failed": "failed"},
    "completed": {},
    "failed": {},
}

CONFIGURATIONS = tuple(LEGAL)
EVENTS = (
    "started",
    "iteration_started",
    "iteration_completed",
    "analysis_completed",
    "command_executed",
    "paused",
    "resumed",
    "completed",
    "failed",
)
FINAL = frozenset({"completed", "failed"})


def payload_for(event: str, iterations_completed: int = 0) -> dict[str, Any]:
    """A valid payload for ``event`` (the right next iteration number)."""
    payloads: dict[str, dict[str, Any]] = {
        "iteration_started": {"number": iterations_completed + 1},
        "command_executed": {"command": "make", "success": True},
        "paused": {"reason": "test"},
        "failed": {"error": "boom"},
    }
    return payloads.get(event, {})


class ReferenceSession:
    """The lifecycle as a dictionary walk: where a session is and how far it got."""

    def __init__(self, max_iterations: int) -> None:
        self.max_iterations = max_iterations
        self.where = "created"
        self.left_from = "running.idle"  # what history remembers
        self.completed = 0
        self.log: list[str] = []

    def accepts(self, event: str, payload: dict[str, Any]) -> bool:
        if event not in LEGAL[self.where]:
            return False
        if event == "iteration_started":
            number: int = payload["number"]
            return number == self.completed + 1 and number <= self.max_iterations
        return True

    def apply(self, event: str) -> None:
        target = LEGAL[self.where][event]
        if event == "paused":
            self.left_from = self.where
        if event == "iteration_completed":
            self.completed += 1
        if target == "<history>":
            target = self.left_from
        if target is not None:
            self.where = target
        self.log.append(event)

    @property
    def status(self) -> str:
        return self.where.split(".")[0]
