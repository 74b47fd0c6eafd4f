"""Signals and observers: what is sent, in which order, and isolation from bad receivers."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from statecharts import (
    InMemorySessionManager,
    ObservableSessionManager,
    SessionConfig,
    SessionId,
    SessionObserver,
    TimestampedEvent,
    events,
    signals,
    state,
)

CONFIG = SessionConfig(project_path=Path("/p"), max_iterations=3)


class Recorder:
    """A receiver that keeps what it got."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.threads: set[int] = set()

    def __call__(self, sender: str, **data: Any) -> None:
        self.calls.append((sender, data))
        self.threads.add(threading.get_ident())


async def drive(manager: InMemorySessionManager) -> SessionId:
    sid = await manager.create_session(CONFIG)
    await manager.start_session(sid)
    await manager.send(sid, "iteration_started", number=1)
    await manager.send(sid, "command_executed", command="x", success=True)
    await manager.send(sid, "analysis_completed")
    await manager.pause_session(sid, reason="r")
    await manager.resume_session(sid)
    await manager.send(sid, "iteration_completed")
    await manager.complete_session(sid)
    return sid


async def test_every_event_sends_state_changed_then_its_own_signal() -> None:
    manager = InMemorySessionManager()
    order: list[str] = []
    any_event = Recorder()
    per_signal = {name: Recorder() for name in signals.SIGNAL_FOR_EVENT}

    def note_any(sender: str, **data: Any) -> None:
        order.append("state_changed")
        any_event(sender, **data)

    receivers: list[Any] = [note_any]
    signals.state_changed.connect(note_any)
    for name, signal in signals.SIGNAL_FOR_EVENT.items():

        def note(sender: str, _name: str = name, **data: Any) -> None:
            order.append(signals.SIGNAL_FOR_EVENT[_name].name)
            per_signal[_name](sender, **data)

        receivers.append(note)
        signal.connect(note)
    try:
        sid = await drive(manager)
        assert await manager.drain_signals(timeout=5)
    finally:
        signals.state_changed.disconnect(note_any)
        for name, receiver in zip(signals.SIGNAL_FOR_EVENT, receivers[1:], strict=True):
            signals.SIGNAL_FOR_EVENT[name].disconnect(receiver)
        manager.close()
    log = await manager.get_events(sid)
    assert [data["event"] for _, data in any_event.calls] == log
    assert {sender for sender, _ in any_event.calls} == {sid}
    assert all(data["manager"] is manager for _, data in any_event.calls)
    # old and new states chain up
    states = [(d["old_state"], d["new_state"]) for _, d in any_event.calls]
    assert states[0][0] == state.Created()
    assert all(a[1] == b[0] for a, b in itertools.pairwise(states))
    assert states[-1][1] == await manager.get_state(sid)
    # state_changed comes before the event's own signal, every time
    assert order == [
        x for e in log for x in ("state_changed", signals.SIGNAL_FOR_EVENT[e.event.kind].name)
    ]
    for name, recorder in per_signal.items():
        assert [d["event"].event.kind for _, d in recorder.calls] == [
            e.event.kind for e in log if e.event.kind == name
        ]
    # delivered off the caller's thread
    assert threading.get_ident() not in any_event.threads


async def test_signal_names_say_what_happened() -> None:
    assert signals.SIGNAL_FOR_EVENT["started"] is signals.session_started
    assert signals.SIGNAL_FOR_EVENT["paused"] is signals.session_paused
    assert signals.SIGNAL_FOR_EVENT["completed"] is signals.session_completed
    assert signals.SIGNAL_FOR_EVENT["failed"] is signals.session_failed
    assert signals.SIGNAL_FOR_EVENT["resumed"] is signals.session_resumed


async def test_a_raising_receiver_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = InMemorySessionManager()
    good = Recorder()

    def bad(sender: str, **data: Any) -> None:
        raise ValueError("receiver bug")

    signals.state_changed.connect(bad)
    signals.state_changed.connect(good)
    try:
        with caplog.at_level(logging.ERROR, logger="statecharts.signals"):
            sid = await drive(manager)
            assert await manager.drain_signals(timeout=5)
    finally:
        signals.state_changed.disconnect(bad)
        signals.state_changed.disconnect(good)
        manager.close()
    assert len(good.calls) == len(await manager.get_events(sid))
    assert "receiver bug" in caplog.text
    assert (await manager.get_state(sid)).status == "completed"


async def test_a_hanging_receiver_is_abandoned_and_delivery_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = InMemorySessionManager(receiver_timeout=0.2)
    release = threading.Event()
    good = Recorder()
    hung_once = threading.Event()

    def hangs(sender: str, **data: Any) -> None:
        if not hung_once.is_set():
            hung_once.set()
            release.wait(10)

    signals.state_changed.connect(hangs)
    signals.state_changed.connect(good)
    try:
        with caplog.at_level(logging.ERROR, logger="statecharts.signals"):
            sid = await asyncio.wait_for(drive(manager), 2)  # the manager is never blocked
            assert await manager.drain_signals(timeout=5)
    finally:
        release.set()
        signals.state_changed.disconnect(hangs)
        signals.state_changed.disconnect(good)
        manager.close()
    assert [d["event"] for _, d in good.calls] == await manager.get_events(sid)
    assert "abandoned" in caplog.text


async def test_async_receivers_are_awaited() -> None:
    manager = InMemorySessionManager()
    got: list[int] = []

    async def receiver(sender: str, **data: Any) -> None:
        await asyncio.sleep(0)
        got.append(data["event"].seq)

    signals.session_started.connect(receiver)
    try:
        await drive(manager)
        assert await manager.drain_signals(timeout=5)
    finally:
        signals.session_started.disconnect(receiver)
        manager.close()
    assert got == [1]


async def test_nothing_is_queued_without_receivers() -> None:
    manager = InMemorySessionManager()
    await drive(manager)
    assert manager.signals._last_published == 0
    assert await manager.drain_signals(timeout=0.1)
    manager.close()


def test_flush_times_out_while_a_receiver_is_busy() -> None:
    manager = InMemorySessionManager(receiver_timeout=30)
    release = threading.Event()

    def slow(sender: str, **data: Any) -> None:
        release.wait(5)

    signals.state_changed.connect(slow)
    try:
        sid = asyncio.run(manager.create_session(CONFIG))
        asyncio.run(manager.start_session(sid))
        assert not manager.signals.flush(timeout=0.05)
        release.set()
        assert manager.signals.flush(timeout=5)
    finally:
        signals.state_changed.disconnect(slow)
        manager.close()


class ListObserver:
    """An observer that keeps (session id, seq) pairs."""

    def __init__(self) -> None:
        self.seen: list[tuple[SessionId, int]] = []

    async def on_event(self, session_id: SessionId, event: TimestampedEvent) -> None:
        await asyncio.sleep(0)
        self.seen.append((session_id, event.seq))


async def test_observers_get_their_managers_events_in_order() -> None:
    inner = InMemorySessionManager()
    other = InMemorySessionManager()
    observable = ObservableSessionManager(inner)
    observer = ListObserver()
    assert isinstance(observer, SessionObserver)
    observable.add_observer(observer)
    try:
        sid = await observable.create_session(CONFIG)
        await observable.start_session(sid)
        await observable.send(sid, "iteration_started", number=1)
        await drive(other)  # another manager's events are not this observer's business
        await observable.drain(timeout=5)
        assert observer.seen == [(sid, 1), (sid, 2)]
    finally:
        await observable.close()
        inner.close()
        other.close()


async def test_a_failing_or_hanging_observer_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = InMemorySessionManager()
    observable = ObservableSessionManager(inner, observer_timeout=0.1)

    class Failing:
        async def on_event(self, session_id: SessionId, event: TimestampedEvent) -> None:
            raise RuntimeError("observer bug")

    class Hanging:
        async def on_event(self, session_id: SessionId, event: TimestampedEvent) -> None:
            await asyncio.sleep(3600)

    good = ListObserver()
    for observer in (Failing(), Hanging(), good):
        observable.add_observer(observer)
    try:
        with caplog.at_level(logging.ERROR, logger="statecharts.observers"):
            sid = await observable.create_session(CONFIG)
            await observable.start_session(sid)
            await observable.send(sid, "iteration_started", number=1)
            await observable.drain(timeout=5)
    finally:
        await observable.close()
        inner.close()
    assert good.seen == [(sid, 1), (sid, 2)]
    assert "observer bug" in caplog.text
    assert "took more than" in caplog.text


async def test_removed_observers_hear_nothing_more() -> None:
    inner = InMemorySessionManager()
    observable = ObservableSessionManager(inner)
    observer = ListObserver()
    observable.add_observer(observer)
    sid = await observable.create_session(CONFIG)
    await observable.start_session(sid)
    await observable.drain(timeout=5)
    await observable.remove_observer(observer)
    await observable.remove_observer(observer)  # twice is harmless
    await observable.send(sid, "iteration_started", number=1)
    await observable.drain(timeout=5)
    assert observer.seen == [(sid, 1)]
    with pytest.raises(TypeError, match="on_event"):
        observable.add_observer(object())  # type: ignore[arg-type]
    await observable.close()
    inner.close()


async def test_the_observable_manager_delegates_everything() -> None:
    inner = InMemorySessionManager()
    observable = ObservableSessionManager(inner)
    sid = await observable.create_session(CONFIG)
    await observable.start_session(sid)
    await observable.send(sid, "iteration_started", number=1)
    await observable.pause_session(sid, "r")
    await observable.resume_session(sid)
    assert (await observable.get_state(sid)).status == "running"
    assert (await observable.get_progress(sid)).iterations_completed == 0
    assert len(await observable.get_events(sid)) == 4
    assert [i.id for i in await observable.list_active_sessions()] == [sid]
    checkpoint = await observable.save_checkpoint(sid)
    assert checkpoint.seq == 4
    assert (await observable.restore_session(sid)).status == "running"
    await observable.send(sid, "iteration_completed")
    recorded = await observable.record_event(sid, events.IterationStarted(number=2))
    assert recorded.seq == 6
    await observable.send(sid, "iteration_completed")
    summary = await observable.complete_session(sid)
    assert summary.total_iterations == 2
    other = await observable.create_session(CONFIG)
    assert (await observable.fail_session(other, "x")).status == "failed"
    await observable.close()
    inner.close()
