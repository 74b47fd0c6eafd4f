"""The full state × event matrix, for the bare chart and for the manager."""

from __future__ import annotations

from typing import Any

import pytest
from statemachine.exceptions import TransitionNotAllowed

from statecharts import (
    IllegalTransition,
    InMemorySessionManager,
    SessionChart,
    SessionConfig,
    SessionError,
    signals,
)

from .reference import EVENTS, LEGAL, payload_for

# How to reach each configuration (and, for paused, which sub-state history remembers).
PATHS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "created": [],
    "running.idle": [("started", {})],
    "running.iterating": [("started", {}), ("iteration_started", {"number": 1})],
    "paused<-idle": [("started", {}), ("paused", {"reason": "x"})],
    "paused<-iterating": [
        ("started", {}),
        ("iteration_started", {"number": 1}),
        ("paused", {"reason": "x"}),
    ],
    "completed": [("started", {}), ("completed", {})],
    "failed": [("failed", {"error": "x"})],
}


def expected_target(path_name: str, event: str) -> str | bool | None:
    """The dotted configuration ``event`` leads to; None: unchanged; False: illegal."""
    where = path_name.split("<-", maxsplit=1)[0]
    legal = LEGAL[where]
    if event not in legal:
        return False
    target = legal[event]
    if target == "<history>":
        return "running." + path_name.split("<-")[1]
    return target


def completed_iterations(path: list[tuple[str, dict[str, Any]]]) -> int:
    return sum(1 for event, _ in path if event == "iteration_completed")


def dotted(chart: SessionChart) -> str:
    ids = [s.id for s in chart.configuration]
    return ".".join(sorted(ids, key=lambda s: s != "running"))


MATRIX = [(path, event) for path in PATHS for event in EVENTS]


@pytest.mark.parametrize(("path_name", "event"), MATRIX)
def test_chart_engine(path_name: str, event: str) -> None:
    chart = SessionChart(max_iterations=3)
    for step, payload in PATHS[path_name]:
        chart.send(step, **payload)
    before = dotted(chart)
    target = expected_target(path_name, event)
    payload = payload_for(event, completed_iterations(PATHS[path_name]))
    if target is False:
        with pytest.raises(TransitionNotAllowed):
            chart.send(event, **payload)
        assert dotted(chart) == before
    else:
        chart.send(event, **payload)
        assert dotted(chart) == (before if target is None else target)


@pytest.mark.parametrize(("path_name", "event"), MATRIX)
async def test_manager(path_name: str, event: str, config: SessionConfig) -> None:
    manager = InMemorySessionManager()
    sid = await manager.create_session(config)
    for step, payload in PATHS[path_name]:
        await manager.send(sid, step, **payload)
    state = await manager.get_state(sid)
    events = await manager.get_events(sid)
    progress = (await manager.get_progress(sid)).model_dump(exclude={"as_of", "duration"})
    received: list[Any] = []

    def receiver(sender: str, **data: Any) -> None:
        received.append(data["event"])

    signals.state_changed.connect(receiver)
    try:
        target = expected_target(path_name, event)
        payload = payload_for(event, completed_iterations(PATHS[path_name]))
        if target is False:
            with pytest.raises(IllegalTransition) as caught:
                await manager.send(sid, event, **payload)
            error = caught.value
            assert isinstance(error, SessionError)
            assert isinstance(error, TransitionNotAllowed)
            assert error.session_id == sid
            assert error.event_name == event
            assert error.current_state == state
            assert event not in error.allowed
            # nothing changed
            assert await manager.get_state(sid) == state
            assert await manager.get_events(sid) == events
            after = (await manager.get_progress(sid)).model_dump(exclude={"as_of", "duration"})
            assert after == progress
        else:
            new_state = await manager.send(sid, event, **payload)
            assert await manager.get_state(sid) == new_state
            log = await manager.get_events(sid)
            assert len(log) == len(events) + 1
            assert log[-1].seq == len(events) + 1
            assert log[-1].event.kind == event
            where = (target or path_name.split("<-", maxsplit=1)[0]).split(".")
            assert new_state.status == where[0]
            if new_state.status == "running":
                assert new_state.phase == where[1]
        await manager.drain_signals(timeout=5)
        assert len(received) == (0 if target is False else 1)
    finally:
        signals.state_changed.disconnect(receiver)
        manager.close()


def test_reference_covers_every_chart_event() -> None:
    assert set(EVENTS) == {str(e) for e in SessionChart._events}
    states = {s.id for s in SessionChart.states_map.values()}
    assert states == {"created", "running", "idle", "iterating", "paused", "completed", "failed"}
