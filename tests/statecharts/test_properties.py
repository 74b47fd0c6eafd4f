"""Hypothesis: random event sequences never break an invariant, and replay reproduces the state."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from statecharts import IllegalTransition, InMemorySessionManager, InvalidEvent, SessionConfig
from statecharts._session import LiveSession

from .reference import EVENTS, FINAL, ReferenceSession, payload_for


class SessionLifecycle(RuleBasedStateMachine):
    """Drives one session of the manager and a reference walk with the same events."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.manager = InMemorySessionManager()
        self.reference: ReferenceSession
        self.sid: Any = None
        self.statuses: list[str] = []

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    @initialize(max_iterations=st.integers(1, 4))
    def create(self, max_iterations: int) -> None:
        config = SessionConfig(project_path=Path("/project"), max_iterations=max_iterations)
        self.sid = self.run(self.manager.create_session(config))
        self.reference = ReferenceSession(max_iterations)
        self.statuses = ["created"]

    @rule(
        event=st.sampled_from(EVENTS),
        offset=st.integers(-1, 2),
        command=st.sampled_from(["make", "pytest", "ruff check"]),
        success=st.booleans(),
    )
    def send(self, event: str, offset: int, command: str, success: bool) -> None:
        payload = payload_for(event, self.reference.completed)
        if event == "iteration_started":
            payload["number"] += offset  # sometimes skip, repeat or go past the budget
        if event == "command_executed":
            payload.update(command=command, success=success)
        if self.reference.accepts(event, payload):
            self.run(self.manager.send(self.sid, event, **payload))
            self.reference.apply(event)
            self.statuses.append(self.reference.status)
        else:
            before = self.run(self.manager.get_events(self.sid))
            expected = InvalidEvent if payload.get("number", 1) < 1 else IllegalTransition
            try:
                self.run(self.manager.send(self.sid, event, **payload))
            except expected:
                pass
            else:  # pragma: no cover - the assertion below explains
                raise AssertionError(f"{event} {payload} accepted from {self.reference.where}")
            assert self.run(self.manager.get_events(self.sid)) == before

    @rule(name=st.text(min_size=1, max_size=12).filter(lambda n: n not in EVENTS))
    def unknown_event(self, name: str) -> None:
        with pytest.raises(InvalidEvent) as caught:
            self.run(self.manager.send(self.sid, name))
        assert caught.value.valid_names == EVENTS

    @rule()
    def checkpoint_and_restore(self) -> None:
        before = self.run(self.manager.get_state(self.sid))
        self.run(self.manager.save_checkpoint(self.sid))
        assert self.run(self.manager.restore_session(self.sid)) == before

    @invariant()
    def state_matches_reference(self) -> None:
        if self.sid is None:
            return
        state = self.run(self.manager.get_state(self.sid))
        assert state.status == self.reference.status
        if state.status == "running":
            assert f"running.{state.phase}" == self.reference.where
            assert state.iteration >= self.reference.completed

    @invariant()
    def log_is_gap_free_and_complete(self) -> None:
        if self.sid is None:
            return
        log = self.run(self.manager.get_events(self.sid))
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        assert [e.event.kind for e in log] == self.reference.log

    @invariant()
    def running_entered_only_from_created_or_paused(self) -> None:
        for before, after in zip(self.statuses, self.statuses[1:], strict=False):
            if after == "running" and before != "running":
                assert before in ("created", "paused")
            if before in FINAL:
                raise AssertionError("a final state was left")

    @invariant()
    def replay_reproduces_the_state(self) -> None:
        if self.sid is None:
            return
        live = self.run(self.manager._reading(self.sid))
        replayed = LiveSession(live.id, live.config, live.created_at)
        replayed.replay(self.run(self.manager.get_events(self.sid)))
        assert replayed.same_as(live)

    @invariant()
    def the_latest_checkpoint_plus_the_rest_of_the_log_is_the_state(self) -> None:
        if self.sid is None:
            return
        live = self.run(self.manager._reading(self.sid))
        if not live.checkpoints:
            return
        checkpoint = live.checkpoints[-1]
        restored = LiveSession.from_snapshot(
            live.id, live.config, live.created_at, checkpoint.state_snapshot
        )
        events = self.run(self.manager.get_events(self.sid))
        restored.replay(e for e in events if e.seq > checkpoint.seq)
        assert restored.same_as(live)
        assert restored.tracker.snapshot(live.state, live.created_at) == live.tracker.snapshot(
            live.state, live.created_at
        )

    def teardown(self) -> None:
        self.manager.close()
        self.loop.close()


SessionLifecycle.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestSessionLifecycle = SessionLifecycle.TestCase
