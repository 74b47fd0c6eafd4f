"""One session in memory: where it is in the chart, its progress and its log.

:class:`LiveSession` holds no chart instance (a python-statemachine chart costs
about 12 KB); its place in the chart is an interned
:class:`~statecharts._compiled.Configuration` of the table compiled from
:class:`~statecharts.SessionChart`, and its progress tracker is the chart's
model.  Recording an event is two steps so that nothing changes unless the event
is accepted *and* stored: :meth:`LiveSession.prepare` decides (pure, may raise),
:meth:`LiveSession.commit` applies.  Locking is the manager's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final, Literal, NamedTuple

from . import _events as ev
from ._chart import IterationCounter, SessionChart
from ._compiled import CompiledChart, CompiledTransition, Configuration
from ._config import SessionConfig
from ._errors import IllegalTransition, ReplayError
from ._events import SessionEvent, TimestampedEvent
from ._ids import SessionId
from ._locks import ReadWriteLock
from ._progress import ProgressTracker
from ._snapshots import SessionCheckpoint, SessionInfo, StateSnapshot
from ._state import Completed, Created, Failed, Paused, Running, SessionState, SessionSummary

__all__ = ["SESSION_TABLE", "LiveSession", "Step"]

SESSION_TABLE: Final = CompiledChart(SessionChart)
""":class:`~statecharts.SessionChart` compiled once, shared by every session."""

_CREATED: Final = Created()


class Step(NamedTuple):
    """An accepted, not yet committed event: the transition, the record and the next state."""

    transition: CompiledTransition
    recorded: TimestampedEvent
    state: SessionState


class LiveSession:
    """The in-memory state of one session (the manager guards it with :attr:`lock`)."""

    __slots__ = (
        "checkpoint_seq",
        "checkpoints",
        "config",
        "configuration",
        "created_at",
        "events",
        "events_base",
        "id",
        "keep_events",
        "last_seq",
        "lock",
        "state",
        "tracker",
    )

    def __init__(self, session_id: SessionId, config: SessionConfig, created_at: datetime) -> None:
        self.id = session_id
        self.config = config
        self.created_at = created_at
        self.configuration: Configuration = SESSION_TABLE.initial
        self.tracker = ProgressTracker(config.max_iterations)
        self.state: SessionState = _CREATED
        self.events: list[TimestampedEvent] = []
        self.events_base = 0  # seq of the last event *not* held in ``events``
        self.keep_events = True  # False when a store holds them: ``events`` stays empty
        self.last_seq = 0
        self.lock = ReadWriteLock()
        self.checkpoints: list[SessionCheckpoint] = []  # kept in memory only without a store
        self.checkpoint_seq = 0  # the seq of the latest checkpoint (0: none)

    # -- recording ------------------------------------------------------------------
    def prepare(self, event: SessionEvent, now: datetime) -> Step:
        """Decide whether ``event`` is accepted, without changing anything.

        Raises :class:`~statecharts.IllegalTransition` when it is not.
        """
        payload = event.__dict__
        transition = SESSION_TABLE.select(self.configuration, event.kind, self.tracker, payload)
        if transition is None:
            raise self.illegal(event.kind, payload)
        recorded = TimestampedEvent.trusted(seq=self.last_seq + 1, timestamp=now, event=event)
        return Step(transition, recorded, self._state_after(transition, recorded))

    def commit(self, step: Step) -> None:
        """Apply a prepared step: the chart's actions, the progress, the log."""
        transition, recorded, state = step
        self.configuration = SESSION_TABLE.apply(transition, self.tracker, recorded.event.__dict__)
        self.tracker.apply(recorded)
        self.state = state
        self.last_seq = recorded.seq
        if self.keep_events:
            self.events.append(recorded)
        else:
            self.events_base = recorded.seq

    def illegal(self, event_name: str, payload: dict[str, Any]) -> IllegalTransition:
        """The error for ``event_name`` not being accepted now, with the reason why."""
        config = self.configuration
        candidates = SESSION_TABLE.candidates(config, event_name)
        if SESSION_TABLE.is_final(config):
            reason = "the state is final"
        elif candidates:
            failing = {name for t in candidates for name in t.failing_guards(self.tracker, payload)}
            reason = "guard " + ", ".join(sorted(failing)) + " failed"
        else:
            reason = f"no transition from {'.'.join(config.states)}"
        return IllegalTransition(
            self.id, event_name, self.state, SESSION_TABLE.allowed_events(config), reason
        )

    def _state_after(
        self, transition: CompiledTransition, recorded: TimestampedEvent
    ) -> SessionState:
        if transition.targetless:
            return self.state
        event, target = recorded.event, transition.target
        match event:
            case ev.IterationStarted():
                return Running.trusted(status="running", iteration=event.number, phase="iterating")
            case ev.Paused():
                return Paused.trusted(
                    status="paused", reason=event.reason, iteration=self.tracker.current_iteration
                )
            case ev.Completed():
                return Completed(summary=self.summary(recorded.timestamp))
            case ev.Failed():
                return Failed(error=event.error)
        # started, resumed, iteration_completed: somewhere in running
        phase: Literal["idle", "iterating"] = "iterating" if target.leaf == "iterating" else "idle"
        return Running.trusted(
            status="running", iteration=self.tracker.current_iteration, phase=phase
        )

    def summary(self, at: datetime) -> SessionSummary:
        """What the session did, as of ``at``."""
        tracker = self.tracker
        return SessionSummary(
            total_iterations=tracker.iterations_completed,
            files_changed=len(tracker.files_changed or ()),
            total_commits=tracker.commits_total,
            duration=tracker.duration(at),
            success_rate=tracker.success_rate(),
        )

    # -- replay ---------------------------------------------------------------------
    def replay(self, events: Iterable[TimestampedEvent]) -> None:
        """Fold recorded events onto this session, checking seq and legality.

        Raises :class:`~statecharts.ReplayError` at the first event that
        does not follow (a gap) or that the chart does not accept.
        """
        for recorded in events:
            if recorded.seq != self.last_seq + 1:
                raise ReplayError(self.id, recorded.seq, f"expected seq {self.last_seq + 1}")
            event = recorded.event
            payload = event.__dict__
            transition = SESSION_TABLE.select(self.configuration, event.kind, self.tracker, payload)
            if transition is None:
                raise ReplayError(self.id, recorded.seq, str(self.illegal(event.kind, payload)))
            self.commit(Step(transition, recorded, self._state_after(transition, recorded)))

    def forget_events(self) -> None:
        """Stop holding the events recorded so far (a store has them); the state stays."""
        self.events = []
        self.events_base = self.last_seq

    # -- snapshots ------------------------------------------------------------------
    def snapshot(self, now: datetime | None = None) -> StateSnapshot:
        """Everything needed to carry on from here without replaying the log."""
        now = now or datetime.now(UTC)
        return StateSnapshot(
            configuration=self.configuration.states,
            history=self.configuration.history_dict(),
            iteration=self.tracker.current_iteration,
            last_seq=self.last_seq,
            state=self.state,
            progress=self.tracker.snapshot(self.state, now),
        )

    @classmethod
    def from_snapshot(
        cls,
        session_id: SessionId,
        config: SessionConfig,
        created_at: datetime,
        snapshot: StateSnapshot,
    ) -> LiveSession:
        """A session positioned where ``snapshot`` was taken (events before it not held)."""
        session = cls(session_id, config, created_at)
        session.configuration = SESSION_TABLE.configuration(
            snapshot.configuration, snapshot.history
        )
        session.tracker = ProgressTracker.from_progress(snapshot.progress)
        session.tracker.current_iteration = snapshot.iteration
        session.state = snapshot.state
        session.last_seq = session.events_base = snapshot.last_seq
        return session

    def same_as(self, other: LiveSession) -> bool:
        """Whether two sessions are in the same place with the same progress."""
        return (
            self.configuration is other.configuration
            and self.state == other.state
            and self.last_seq == other.last_seq
            and self.tracker.same_as(other.tracker)
        )

    # -- views ----------------------------------------------------------------------
    def info(self, now: datetime | None = None) -> SessionInfo:
        """The session at a glance."""
        return SessionInfo(
            id=self.id,
            state=self.state,
            config=self.config,
            progress=self.tracker.snapshot(self.state, now),
            created_at=self.created_at,
        )

    def to_chart(self) -> SessionChart:
        """A python-statemachine chart instance in this session's configuration."""
        model = IterationCounter(
            max_iterations=self.tracker.max_iterations,
            iterations_completed=self.tracker.iterations_completed,
        )
        chart = SessionChart(model, start_value=self.configuration.leaf)
        states = SessionChart.states_map
        chart.history_values = {h: [states[s]] for h, s in self.configuration.history}
        return chart
