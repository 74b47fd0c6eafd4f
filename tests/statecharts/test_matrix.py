"""The full state × event matrix, for the bare chart and for the manager."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import pytest
from statemachine.exceptions import TransitionNotAllowed

from statecharts import (
    IllegalTransition,
    InMemorySessionManager,
    SessionChart,
    SessionConfig,
    SessionError,
    SessionId,
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


def expected_target(path_name: str, event: str) -> str | Literal[False] | None:
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


REFUSED = [(path, event) for path, event in MATRIX if expected_target(path, event) is False]
TAKEN = [(path, event) for path, event in MATRIX if expected_target(path, event) is not False]


async def reached(
    manager: InMemorySessionManager, config: SessionConfig, path_name: str
) -> SessionId:
    """A session of ``manager`` driven to the configuration ``path_name`` names."""
    sid = await manager.create_session(config)
    for step, payload in PATHS[path_name]:
        await manager.send(sid, step, **payload)
    return sid


@contextmanager
def state_changes() -> Iterator[list[Any]]:
    """The events ``state_changed`` is sent for while the block runs (and drained after)."""
    received: list[Any] = []

    def receiver(sender: str, **data: Any) -> None:
        received.append(data["event"])

    signals.state_changed.connect(receiver)
    try:
        yield received
    finally:
        signals.state_changed.disconnect(receiver)


@pytest.mark.parametrize(("path_name", "event"), REFUSED)
async def test_the_manager_refuses_what_the_chart_refuses_saying_why(
    path_name: str, event: str, manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await reached(manager, config, path_name)
    state = await manager.get_state(sid)
    payload = payload_for(event, completed_iterations(PATHS[path_name]))
    with pytest.raises(IllegalTransition) as caught:
        await manager.send(sid, event, **payload)
    error = caught.value
    assert isinstance(error, SessionError) and isinstance(error, TransitionNotAllowed)
    assert (error.session_id, error.event_name, error.current_state) == (sid, event, state)
    assert event not in error.allowed


@pytest.mark.parametrize(("path_name", "event"), REFUSED)
async def test_a_refused_event_changes_nothing_and_sends_no_signal(
    path_name: str, event: str, manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await reached(manager, config, path_name)
    before = (
        await manager.get_state(sid),
        await manager.get_events(sid),
        (await manager.get_progress(sid)).model_dump(exclude={"as_of", "duration"}),
    )
    payload = payload_for(event, completed_iterations(PATHS[path_name]))
    with state_changes() as received:
        with pytest.raises(IllegalTransition):
            await manager.send(sid, event, **payload)
        await manager.drain_signals(timeout=5)
    after = (
        await manager.get_state(sid),
        await manager.get_events(sid),
        (await manager.get_progress(sid)).model_dump(exclude={"as_of", "duration"}),
    )
    assert after == before
    assert received == []


@pytest.mark.parametrize(("path_name", "event"), TAKEN)
async def test_the_manager_takes_what_the_chart_takes_to_the_same_place(
    path_name: str, event: str, manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await reached(manager, config, path_name)
    target = expected_target(path_name, event)
    assert target is not False
    new_state = await manager.send(
        sid, event, **payload_for(event, completed_iterations(PATHS[path_name]))
    )
    assert await manager.get_state(sid) == new_state
    where = (target or path_name.split("<-", maxsplit=1)[0]).split(".")
    assert new_state.status == where[0]
    if new_state.status == "running":
        assert new_state.phase == where[1]


@pytest.mark.parametrize(("path_name", "event"), TAKEN)
async def test_a_taken_event_is_logged_once_and_signalled_once(
    path_name: str, event: str, manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await reached(manager, config, path_name)
    before = await manager.get_events(sid)
    payload = payload_for(event, completed_iterations(PATHS[path_name]))
    with state_changes() as received:
        await manager.send(sid, event, **payload)
        await manager.drain_signals(timeout=5)
    log = await manager.get_events(sid)
    assert log[:-1] == before
    assert (log[-1].seq, log[-1].event.kind) == (len(before) + 1, event)
    assert received == [log[-1]]


def test_reference_covers_every_chart_event() -> None:
    assert set(EVENTS) == {str(e) for e in SessionChart._events}
    states = {s.id for s in SessionChart.states_map.values()}
    assert states == {"created", "running", "idle", "iterating", "paused", "completed", "failed"}
