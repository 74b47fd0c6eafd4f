"""The port as the domain defines it: a basic store seen as durable, and the bulk-load helper."""

from __future__ import annotations

import gc
import random
from collections.abc import AsyncIterator, Sequence

import pytest

from persistence import MemorySessionStorage
from statecharts import (
    INTERRUPTED,
    DurableSessionStorage,
    InMemorySessionManager,
    PersistedSession,
    SessionCheckpoint,
    SessionConfig,
    SessionId,
    SessionNotFound,
    SessionState,
    SessionStorage,
    TimestampedEvent,
    as_durable,
)
from statecharts._loading import load_session, paused_gc

from .workload import drive

CONFIG = SessionConfig(project_path="/p", max_iterations=1_000)


class BasicStore:
    """Only the basic port's seven methods (a store written before the durable port)."""

    def __init__(self) -> None:
        self.inner = MemorySessionStorage()

    async def save(self, session: PersistedSession) -> None:
        await self.inner.save(session)

    async def load(self, session_id: SessionId) -> PersistedSession | None:
        return await self.inner.load(session_id)

    async def list(self) -> list[SessionId]:
        return await self.inner.list()

    async def delete(self, session_id: SessionId) -> None:
        await self.inner.delete(session_id)

    async def append(
        self, session_id: SessionId, events: Sequence[TimestampedEvent], state: SessionState
    ) -> None:
        await self.inner.append(session_id, events, state)

    def load_events(
        self, session_id: SessionId, after_seq: int = 0
    ) -> AsyncIterator[TimestampedEvent]:
        return self.inner.load_events(session_id, after_seq)

    async def save_checkpoint(
        self, session_id: SessionId, checkpoint: SessionCheckpoint
    ) -> SessionCheckpoint:
        return await self.inner.save_checkpoint(session_id, checkpoint)


def test_a_basic_store_is_seen_as_durable_and_a_durable_one_as_itself() -> None:
    basic = BasicStore()
    assert isinstance(basic, SessionStorage) and not isinstance(basic, DurableSessionStorage)
    assert isinstance(as_durable(basic), DurableSessionStorage)
    assert as_durable(basic.inner) is basic.inner


async def driven(basic: BasicStore) -> tuple[InMemorySessionManager, SessionId]:
    """A manager on ``basic`` and a session of 30 events, checkpointed at 25."""
    manager = await InMemorySessionManager.open(basic)
    sid = await manager.create_session(CONFIG)
    await drive(manager, sid, 25, random.Random(1))
    await manager.save_checkpoint(sid)
    await drive(manager, sid, 5, random.Random(2))
    return manager, sid


async def test_a_basic_store_restores_a_session_from_its_checkpoint() -> None:
    basic = BasicStore()
    manager, sid = await driven(basic)
    live = await manager._reading(sid)
    assert await as_durable(basic).acquire(sid) is None  # it cannot tell: no reload check
    assert await manager.restore_session(sid) == live.state
    assert (await manager._reading(sid)).same_as(live)
    await manager.aclose()


async def test_the_adapter_hands_every_basic_method_to_the_store() -> None:
    basic = BasicStore()
    manager, sid = await driven(basic)
    await manager.aclose()
    durable = as_durable(basic)
    await durable.flush()
    await durable.release(sid)
    assert [e.seq async for e in durable.load_events(sid, 28)] == [29, 30]
    stored = await durable.load(sid)
    assert stored is not None
    await durable.save(stored)
    checkpoint = await durable.save_checkpoint(sid, stored.checkpoints[-1])
    assert checkpoint == stored.checkpoints[-1]
    await durable.append(sid, [], stored.state)
    assert await durable.list() == [sid]
    await durable.delete(sid)
    assert await durable.list() == []
    with pytest.raises(SessionNotFound):
        await load_session(durable, sid)


async def test_reopening_a_basic_store_pauses_what_was_running_as_interrupted() -> None:
    basic = BasicStore()
    manager, sid = await driven(basic)
    assert (await manager.get_state(sid)).status == "running"
    await manager.aclose()
    reopened = await InMemorySessionManager.open(basic)  # one user: running means interrupted
    state = await reopened.get_state(sid)
    assert state.status == "paused" and state.reason == INTERRUPTED
    assert [e.seq for e in await reopened.get_events(sid)][-1] == 31  # one event: paused
    reopened.close()


def test_the_collector_is_paused_and_given_back() -> None:
    was = gc.isenabled()
    gc.enable()
    try:
        with paused_gc:
            assert not gc.isenabled()
            with paused_gc:  # nested: still paused when the inner one ends
                pass
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()
        with paused_gc:
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        if was:
            gc.enable()
