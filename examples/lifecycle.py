"""Drive one session through its whole lifecycle and print every event as it is recorded.

Run it with ``python examples/lifecycle.py``.
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

from statecharts import InMemorySessionManager, SessionConfig, SessionId, Worktree, signals


def show(session_id: SessionId, **data: Any) -> None:
    """Print one recorded event: seq, kind, and the state it led to."""
    event, new_state = data["event"], data["new_state"]
    payload = event.event.model_dump(mode="json", exclude={"kind", "config"}, exclude_defaults=True)
    state = new_state.model_dump(mode="json", exclude={"summary"})
    print(f"  #{event.seq:<2} {event.event.kind:<20} {payload or ''!s:<44} -> {state}")


async def main() -> None:
    """Create a session, run two iterations with a pause in the middle, complete it."""
    signals.state_changed.connect(show)
    manager = InMemorySessionManager()
    config = SessionConfig(
        project_path=tempfile.gettempdir(),
        max_iterations=2,
        execution_mode=Worktree(name="demo"),
    )
    session_id = await manager.create_session(config)
    print(f"session {session_id} created")
    await manager.start_session(session_id)
    for number in (1, 2):
        await manager.send(session_id, "iteration_started", number=number)
        await manager.send(session_id, "command_executed", command="make test", success=True)
        if number == 1:
            await manager.pause_session(session_id, reason="coffee")
            await manager.resume_session(session_id)  # back in the iteration it left
        await manager.send(
            session_id, "iteration_completed", changes={"files_modified": [f"src/{number}.py"]}
        )
    summary = await manager.complete_session(session_id)
    await manager.drain_signals()
    print(
        f"completed: {summary.total_iterations} iterations, {summary.files_changed} files, "
        f"success rate {summary.success_rate:.0%}"
    )
    try:
        await manager.send(session_id, "resumed")
    except Exception as error:  # noqa: BLE001 - the point is to show the message
        print(f"and a completed session is final: {error}")
    manager.close()


if __name__ == "__main__":
    asyncio.run(main())
