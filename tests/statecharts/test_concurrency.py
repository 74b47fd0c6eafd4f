"""Threads and tasks at once: logs stay gap-free, states equal their replay, sessions isolated."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from statecharts import (
    IllegalTransition,
    InMemorySessionManager,
    SessionConfig,
    SessionId,
    signals,
    state,
)
from statecharts._session import LiveSession

from .doubles import HookedStorage

THREADS = 6
TASKS_PER_THREAD = 4
SESSIONS = 12
OPERATIONS = 150


async def drive(
    manager: InMemorySessionManager, ids: list[SessionId], seed: int, accepted: Counter[str]
) -> None:
    rng = random.Random(seed)
    for _ in range(OPERATIONS):
        sid = rng.choice(ids)
        choice = rng.random()
        try:
            if choice < 0.5:
                await manager.send(sid, "command_executed", command="c", success=True)
            elif choice < 0.7:
                done = (await manager.get_progress(sid)).iterations_completed
                await manager.send(sid, "iteration_started", number=done + 1)
            elif choice < 0.85:
                await manager.send(sid, "iteration_completed")
            elif choice < 0.92:
                await manager.pause_session(sid, reason="p")
            else:
                await manager.resume_session(sid)
        except IllegalTransition:
            continue  # another writer got there first: legal to refuse
        accepted[sid] += 1
        if rng.random() < 0.2:
            events = await manager.get_events(sid)
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
        await asyncio.sleep(0)


async def assert_consistent(
    manager: InMemorySessionManager, ids: list[SessionId], accepted: Counter[str]
) -> None:
    for sid in ids:
        live = await manager._reading(sid)
        events = await manager.get_events(sid)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert len(events) == accepted[sid] + 1  # + started
        replayed = LiveSession(live.id, live.config, live.created_at)
        replayed.replay(events)
        assert replayed.same_as(live), sid


@pytest.mark.parametrize("with_storage", [False, True])
def test_threads_and_tasks_hammering_shared_sessions(with_storage: bool) -> None:
    storage = HookedStorage() if with_storage else None
    manager = InMemorySessionManager(storage)
    config = SessionConfig(project_path=Path("/p"), max_iterations=10_000)

    async def setup() -> list[SessionId]:
        ids = [await manager.create_session(config) for _ in range(SESSIONS)]
        for sid in ids:
            await manager.start_session(sid)
        return ids

    ids = asyncio.run(setup())
    counters = [Counter[str]() for _ in range(THREADS)]
    errors: list[BaseException] = []

    def thread_main(index: int) -> None:
        async def tasks() -> None:
            await asyncio.gather(
                *(
                    drive(manager, ids, seed=index * 100 + t, accepted=counters[index])
                    for t in range(TASKS_PER_THREAD)
                )
            )

        try:
            asyncio.run(tasks())
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    accepted = sum(counters, Counter[str]())
    assert sum(accepted.values()) > THREADS * TASKS_PER_THREAD * OPERATIONS // 3
    asyncio.run(assert_consistent(manager, ids, accepted))
    if storage is not None:
        for sid in ids:
            assert storage.sessions[sid].events == tuple(asyncio.run(manager.get_events(sid)))
            assert storage.sessions[sid].state == asyncio.run(manager.get_state(sid))
    manager.close()


async def test_a_slow_write_blocks_only_its_own_session() -> None:
    storage = HookedStorage()
    manager = InMemorySessionManager(storage)
    config = SessionConfig(project_path=Path("/p"), max_iterations=3)
    slow, fast = await manager.create_session(config), await manager.create_session(config)
    storage.hold[slow] = asyncio.Event()
    writer = asyncio.create_task(manager.start_session(slow))
    await asyncio.sleep(0.01)
    assert not writer.done()
    # the state of the held session is still the last committed one
    assert await manager.get_state(slow) == state.Created()
    # a second writer of the same session queues behind the first
    second = asyncio.create_task(manager.send(slow, "iteration_started", number=1))
    # a reader that takes the read lock waits for the writers
    reader = asyncio.create_task(manager.get_events(slow))
    await asyncio.sleep(0.01)
    assert not second.done() and not reader.done()
    # another session is not blocked at all: there is no global lock
    await manager.start_session(fast)
    assert (await manager.get_state(fast)).status == "running"
    storage.hold[slow].set()
    await asyncio.wait_for(asyncio.gather(writer, second), 1)
    # FIFO: the reader came after the second writer, so it sees both events
    assert [e.event.kind for e in await asyncio.wait_for(reader, 1)] == [
        "started",
        "iteration_started",
    ]
    assert [e.seq for e in await manager.get_events(slow)] == [1, 2]
    manager.close()


async def test_storage_failure_changes_nothing_and_sends_no_signal() -> None:
    storage = HookedStorage()
    manager = InMemorySessionManager(storage)
    sid = await manager.create_session(SessionConfig(project_path=Path("/p"), max_iterations=3))
    await manager.start_session(sid)
    received: list[Any] = []

    def receiver(sender: str, **data: Any) -> None:
        received.append(data)

    signals.state_changed.connect(receiver)
    try:
        storage.fail_next = OSError(28, "No space left on device")
        before = (
            await manager.get_state(sid),
            await manager.get_events(sid),
            (await manager.get_progress(sid)).model_dump(exclude={"as_of", "duration"}),
        )
        with pytest.raises(OSError, match="No space left"):
            await manager.send(sid, "iteration_started", number=1)
        after = (
            await manager.get_state(sid),
            await manager.get_events(sid),
            (await manager.get_progress(sid)).model_dump(exclude={"as_of", "duration"}),
        )
        assert after == before
        assert storage.sessions[sid].events == tuple(before[1])
        await manager.drain_signals(timeout=5)
        assert received == []
        # and the next event gets the seq the failed one would have had
        await manager.send(sid, "iteration_started", number=1)
        assert [e.seq for e in await manager.get_events(sid)] == [1, 2]
        await manager.drain_signals(timeout=5)
        assert len(received) == 1
    finally:
        signals.state_changed.disconnect(receiver)
        manager.close()


async def test_a_failed_create_leaves_no_session() -> None:
    storage = HookedStorage()
    manager = InMemorySessionManager(storage)
    storage.fail_next = PermissionError(13, "Permission denied")
    with pytest.raises(PermissionError):
        await manager.create_session(SessionConfig(project_path=Path("/p"), max_iterations=3))
    assert len(manager) == 0
    assert storage.sessions == {}


async def test_checkpoints_and_restore_go_through_storage() -> None:
    storage = HookedStorage()
    manager = InMemorySessionManager(storage)
    sid = await manager.create_session(SessionConfig(project_path=Path("/p"), max_iterations=3))
    await manager.start_session(sid)
    await manager.send(sid, "iteration_started", number=1)
    checkpoint = await manager.save_checkpoint(sid)
    assert checkpoint.log_hash == "seq-2"
    await manager.send(sid, "iteration_completed")
    live = await manager._reading(sid)
    assert await manager.restore_session(sid) == live.state
    assert (await manager._reading(sid)).same_as(live)
    storage.sessions.clear()
    with pytest.raises(Exception, match="unknown session id"):
        await manager.restore_session(sid)
