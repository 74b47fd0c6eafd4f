"""The storage contract: what every implementation of the port must do, as reusable tests.

Subclass :class:`StorageContract` and provide the ``opener`` fixture: a
callable that opens a store instance on the test's data (a new instance each
call for a durable store; the same one for a memory store), plus the class
attributes telling what the store can do.  Every store runs this very suite,
unchanged (``tests/persistence/test_contract.py``, ``tests/postgres/test_contract.py``).

Only public names are used here — the port, the manager and the records from
``statecharts`` (and its fold, to check what a store kept), the errors from
``persistence`` — never a store's internals.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from persistence import AppendRefused, InvalidSessionId, verify
from statecharts import (
    INTERRUPTED,
    DurableSessionStorage,
    InMemorySessionManager,
    PersistedSession,
    SessionConfig,
    SessionEvent,
    SessionId,
    SessionLocked,
    SessionNotFound,
    TimestampedEvent,
    events,
    new_session_id,
    state,
)
from statecharts._session import LiveSession

from .workload import drive

Opener = Callable[[], DurableSessionStorage]

BAD_IDS = ["../x", "a/b", "x\0y", "", ".", "..", "01HZZZZZZZZZZZZZZZZZZZZZZ/", 42, None]


def stamped(seq: int, event: SessionEvent) -> TimestampedEvent:
    """An event as recorded at ``seq``."""
    return TimestampedEvent(seq=seq, timestamp=datetime.now(UTC), event=event)


def replayed(stored: PersistedSession) -> LiveSession:
    """The session a full replay of ``stored``'s events gives."""
    session = LiveSession(stored.id, stored.config, stored.created_at)
    session.replay(stored.events)
    return session


class StorageContract:
    """The tests every store passes; see the module's documentation."""

    #: a second instance on the same data sees what the first stored
    survives_reopen = True
    #: two instances on the same data exclude each other (``SessionLocked``)
    excludes_other_instances = True

    @pytest.fixture
    def opener(self) -> Opener:
        raise NotImplementedError

    @pytest.fixture
    async def store(self, opener: Opener) -> AsyncIterator[DurableSessionStorage]:
        store = opener()
        yield store
        await store.close()

    @pytest.fixture
    def session_config(self) -> SessionConfig:
        return SessionConfig(project_path="/work/project", max_iterations=1_000_000)

    async def new_manager(self, store: DurableSessionStorage) -> InMemorySessionManager:
        return await InMemorySessionManager.open(store, receiver_timeout=2.0)

    # -- the spec's four ----------------------------------------------------------------
    async def test_a_new_store_is_empty(self, store: DurableSessionStorage) -> None:
        assert await store.list() == []
        assert await store.load(new_session_id()) is None
        assert await store.load_head(new_session_id()) is None
        await store.delete(new_session_id())  # unknown ids are ignored

    async def test_save_then_load_round_trips(
        self, store: DurableSessionStorage, session_config: SessionConfig
    ) -> None:
        sid = new_session_id()
        stored_events = (
            stamped(1, events.Started(config=session_config)),
            stamped(2, events.IterationStarted(number=1)),
            stamped(3, events.CommandExecuted(command="make", success=True)),
        )
        session = PersistedSession(
            id=sid,
            config=session_config,
            state=state.Running(iteration=1, phase="iterating"),
            created_at=datetime.now(UTC),
            events=stored_events,
        )
        await store.save(session)
        loaded = await store.load(sid)
        assert loaded is not None
        assert loaded.events == stored_events
        assert (loaded.id, loaded.config, loaded.state, loaded.created_at) == (
            sid,
            session_config,
            session.state,
            session.created_at,
        )
        assert await store.list() == [sid]
        # saving again replaces it whole
        await store.save(
            session.model_copy(
                update={"events": stored_events[:1], "state": state.Running(iteration=0)}
            )
        )
        again = await store.load(sid)
        assert again is not None and again.events == stored_events[:1]

    async def test_list_is_oldest_first_and_delete_forgets(
        self, store: DurableSessionStorage, session_config: SessionConfig
    ) -> None:
        manager = await self.new_manager(store)
        ids = [await manager.create_session(session_config) for _ in range(5)]
        assert await store.list() == sorted(ids) == ids
        await store.delete(ids[2])
        assert await store.list() == ids[:2] + ids[3:]
        assert await store.load(ids[2]) is None
        await store.delete(ids[2])
        manager.close()

    # -- events -------------------------------------------------------------------------
    async def test_appended_events_are_read_back_from_any_seq(
        self, store: DurableSessionStorage, session_config: SessionConfig
    ) -> None:
        manager = await self.new_manager(store)
        sid = await manager.create_session(session_config)
        await drive(manager, sid, 120, random.Random(1))
        recorded = await manager.get_events(sid)
        assert [e.seq for e in recorded] == list(range(1, 121))
        for after in (0, 1, 57, 119, 120, 500):
            assert [e async for e in store.load_events(sid, after)] == recorded[after:]
        manager.close()

    @pytest.mark.parametrize(
        ("seqs", "says"),
        [
            ([3], "a gap"),
            ([2, 7], "a gap"),
            ([2, 2], "stored already"),
            ([1], "stored already"),
            ([2, 3, 2], "stored already"),
        ],
    )
    async def test_an_append_whose_seqs_do_not_follow_is_refused_and_changes_nothing(
        self,
        store: DurableSessionStorage,
        session_config: SessionConfig,
        seqs: list[int],
        says: str,
    ) -> None:
        manager = await self.new_manager(store)
        sid = await manager.create_session(session_config)
        await manager.start_session(sid)
        batch = [stamped(seq, events.CommandExecuted(command="x", success=True)) for seq in seqs]
        with pytest.raises(AppendRefused, match=says):
            await store.append(sid, batch, state.Running(iteration=0))
        assert [e.seq async for e in store.load_events(sid)] == [1]
        assert (await verify(store)).ok
        manager.close()

    async def test_an_append_of_what_is_not_events_is_refused(
        self, store: DurableSessionStorage, session_config: SessionConfig
    ) -> None:
        manager = await self.new_manager(store)
        sid = await manager.create_session(session_config)
        await manager.start_session(sid)
        two = stamped(2, events.Resumed())
        for batch, new_state in [
            ("not events", state.Running(iteration=0)),
            ([events.Resumed()], state.Running(iteration=0)),
            ([two], "running"),
        ]:
            with pytest.raises(AppendRefused, match="expected"):
                await store.append(sid, batch, new_state)  # type: ignore[arg-type]
        assert [e.seq async for e in store.load_events(sid)] == [1]
        manager.close()

    async def test_nothing_is_appended_to_a_finished_session(
        self, store: DurableSessionStorage, session_config: SessionConfig
    ) -> None:
        manager = await self.new_manager(store)
        sid = await manager.create_session(session_config)
        await manager.start_session(sid)
        await manager.fail_session(sid, "boom")
        late = stamped(3, events.Resumed())
        with pytest.raises(AppendRefused, match="the session is failed"):
            await store.append(sid, [late], state.Running(iteration=0))
        assert [e.seq async for e in store.load_events(sid)] == [1, 2]
        manager.close()

    async def test_a_store_that_does_not_hold_a_session_cannot_append_to_it(
        self, opener: Opener, session_config: SessionConfig
    ) -> None:
        if not self.excludes_other_instances:
            pytest.skip("this store has a single user")
        first, second = opener(), opener()
        manager = await self.new_manager(first)
        sid = await manager.create_session(session_config)
        await manager.start_session(sid)
        with pytest.raises(SessionLocked):
            await second.append(sid, [stamped(2, events.Resumed())], state.Running(iteration=0))
        assert [e.seq async for e in second.load_events(sid)] == [1]
        await manager.aclose()
        await second.close()

    async def test_unknown_sessions(self, store: DurableSessionStorage) -> None:
        unknown = new_session_id()
        with pytest.raises(SessionNotFound):
            [e async for e in store.load_events(unknown)]
        with pytest.raises(SessionNotFound):
            await store.acquire(unknown)
        with pytest.raises(SessionNotFound):
            await store.append(unknown, [stamped(1, events.Started())], state.Running(iteration=0))

    @pytest.mark.parametrize("bad", BAD_IDS)
    async def test_invalid_ids_never_reach_a_path(
        self, store: DurableSessionStorage, bad: object
    ) -> None:
        calls = [
            store.load(bad),  # type: ignore[arg-type]
            store.load_head(bad),  # type: ignore[arg-type]
            store.delete(bad),  # type: ignore[arg-type]
            store.acquire(bad),  # type: ignore[arg-type]
            store.release(bad),  # type: ignore[arg-type]
            store.append(bad, [stamped(1, events.Started())], state.Running(iteration=0)),  # type: ignore[arg-type]
        ]
        for call in calls:
            with pytest.raises(InvalidSessionId):
                await call
        with pytest.raises(InvalidSessionId):
            [e async for e in store.load_events(bad)]  # type: ignore[arg-type]
        assert await store.list() == []

    # -- checkpoints and restore --------------------------------------------------------
    async def test_restore_from_a_checkpoint_equals_a_full_replay(
        self, store: DurableSessionStorage, session_config: SessionConfig
    ) -> None:
        manager = await self.new_manager(store)
        sid = await manager.create_session(session_config)
        await drive(manager, sid, 80, random.Random(2))
        checkpoint = await manager.save_checkpoint(sid)
        assert checkpoint.seq == 80
        await drive(manager, sid, 40, random.Random(3))
        head = await store.load_head(sid)
        assert head is not None and head.checkpoint is not None
        assert head.checkpoint.seq >= 80  # the manager checkpoints on its own too (pauses)
        live = await manager._reading(sid)
        assert await manager.restore_session(sid) == live.state
        assert (await manager._reading(sid)).same_as(live)
        stored = await store.load(sid)
        assert stored is not None and replayed(stored).same_as(live)
        assert [e.seq for e in await manager.get_events(sid)] == list(range(1, 121))
        assert (await verify(store)).ok
        manager.close()

    # -- restart and recovery -----------------------------------------------------------
    async def test_a_reopened_store_recovers_every_session(
        self, opener: Opener, session_config: SessionConfig
    ) -> None:
        if not self.survives_reopen:
            pytest.skip("this store does not outlive its instance")
        store = opener()
        manager = await self.new_manager(store)
        running = await manager.create_session(session_config)
        paused = await manager.create_session(session_config)
        created = await manager.create_session(session_config)
        await drive(manager, running, 30, random.Random(4))
        if (await manager.get_state(running)).status == "paused":
            await manager.resume_session(running)
        await manager.start_session(paused)
        await manager.pause_session(paused, reason="for later")
        expected = {sid: await manager.get_events(sid) for sid in (running, paused, created)}
        await manager.aclose()

        reopened = opener()
        manager = await self.new_manager(reopened)
        assert sorted(await reopened.list()) == sorted(expected)
        interrupted = await manager.get_events(running)
        assert interrupted[:-1] == expected[running]
        assert interrupted[-1].event == events.Paused(reason=INTERRUPTED)
        assert await manager.get_events(paused) == expected[paused]
        assert await manager.get_state(paused) == state.Paused(reason="for later")
        assert await manager.get_state(created) == state.Created()
        # and the interrupted session resumes where it was
        resumed = await manager.resume_session(running)
        assert resumed.status == "running"
        await manager.aclose()

    async def test_only_one_instance_drives_a_session(
        self, opener: Opener, session_config: SessionConfig
    ) -> None:
        if not self.excludes_other_instances:
            pytest.skip("this store has a single user")
        first, second = opener(), opener()
        manager = await self.new_manager(first)
        sid = await manager.create_session(session_config)
        await manager.start_session(sid)
        other = await self.new_manager(second)
        assert (await other.get_state(sid)).status == "running"  # loaded, not touched
        with pytest.raises(SessionLocked):
            await other.send(sid, "iteration_started", number=1)
        with pytest.raises(SessionLocked):
            await second.delete(sid)
        # once the first lets go, the second catches up before writing
        await manager.send(sid, "iteration_started", number=1)
        await first.release(sid)
        assert await second.acquire(sid) == 2
        assert (await other.send(sid, "command_executed", command="x", success=True)).status == (
            "running"
        )
        assert [e.seq for e in await other.get_events(sid)] == [1, 2, 3]
        await manager.aclose()
        await other.aclose()

    async def test_acquire_release_flush_close_are_idempotent(
        self, store: DurableSessionStorage, session_config: SessionConfig
    ) -> None:
        manager = await self.new_manager(store)
        sid = await manager.create_session(session_config)
        await manager.start_session(sid)
        assert await store.acquire(sid) == 1
        assert await store.acquire(sid) == 1
        await store.release(sid)
        await store.release(sid)
        await store.flush()
        await store.flush()
        await manager.aclose()
        await store.close()

    # -- listing ------------------------------------------------------------------------
    async def test_sessions_are_filtered_counted_and_paged_alike(
        self, store: DurableSessionStorage, session_config: SessionConfig
    ) -> None:
        manager = await self.new_manager(store)
        made: list[tuple[SessionId, str, str]] = []  # (id, workflow, status), oldest first
        for number in range(9):
            workflow = ("lint", "tests", "docs")[number % 3]
            config = session_config.model_copy(
                update={"workflow": session_config.workflow.model_copy(update={"name": workflow})}
            )
            sid = await manager.create_session(config)
            if number % 2:
                await manager.start_session(sid)
            if number % 4 == 3:
                await manager.complete_session(sid)
            made.append((sid, workflow, (await manager.get_state(sid)).status))
        middle = (await manager.get_info(made[4][0])).created_at
        reader = manager
        cases: list[tuple[frozenset[str] | None, str | None, datetime | None]] = [
            (None, None, None),
            (None, None, middle),
            (frozenset({"running"}), None, None),
            (frozenset({"created", "completed"}), "tests", None),
            (None, "docs", middle),
            (frozenset({"failed"}), None, None),
        ]
        for statuses, wanted, since in cases:
            expected = [
                sid
                for sid, name, status in made
                if (statuses is None or status in statuses)
                and (wanted is None or name == wanted)
                and (since is None or sid >= made[4][0])
            ]
            count = await reader.count_sessions(statuses, workflow=wanted, since=since)
            assert count == len(expected), (statuses, wanted, since)
            for newest_first, offset, limit in [(False, 0, None), (True, 0, 2), (True, 1, 3)]:
                listed = await reader.list_sessions(
                    statuses,
                    workflow=wanted,
                    since=since,
                    newest_first=newest_first,
                    offset=offset,
                    limit=limit,
                )
                order = expected[::-1] if newest_first else expected
                end = None if limit is None else offset + limit
                assert [info.id for info in listed] == order[offset:end]
        past_the_end = await reader.list_sessions(offset=len(made), limit=5)
        assert past_the_end == []
        with pytest.raises(ValueError, match="offset"):
            await reader.list_sessions(offset=-1)
        await reader.aclose()
