"""Every record validates strictly and round-trips through JSON exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from statecharts import (
    EVENT_TYPES,
    Direct,
    IterationChanges,
    SessionConfig,
    SessionEvent,
    SessionOptions,
    SessionState,
    TimestampedEvent,
    WorkflowConfig,
    Worktree,
    events,
    state,
)

from . import strategies as s

ALL = st.one_of(
    s.configs,
    s.session_events,
    s.timestamped,
    s.session_states,
    s.progresses,
    s.snapshots,
    s.checkpoints,
    s.persisted,
    s.infos,
    s.changes,
    s.analysis,
    s.executed,
    s.metrics,
)


@settings(max_examples=300, deadline=None)
@given(record=ALL)
def test_json_round_trip_is_exact(record: BaseModel) -> None:
    assert type(record).model_validate_json(record.model_dump_json()) == record


@given(event=s.session_events)
def test_events_round_trip_through_the_union(event: Any) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(SessionEvent)
    assert adapter.validate_json(adapter.dump_json(event)) == event


@given(value=s.session_states)
def test_states_round_trip_through_the_union(value: Any) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(SessionState)
    assert adapter.validate_python(adapter.dump_python(value, mode="json")) == value


def test_config_needs_only_project_path_and_max_iterations() -> None:
    config = SessionConfig(project_path="/p", max_iterations=2)
    assert config.execution_mode == Direct()
    assert config.options == SessionOptions()
    assert config.workflow == WorkflowConfig()
    assert config.focus is None
    with pytest.raises(ValidationError):
        SessionConfig(project_path="/p", max_iterations=0)
    with pytest.raises(ValidationError):
        SessionConfig(max_iterations=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="extra"):
        SessionConfig(project_path="/p", max_iterations=1, colour="red")  # type: ignore[call-arg]


def test_execution_mode_is_a_tagged_union() -> None:
    config = SessionConfig.model_validate(
        {
            "project_path": "/p",
            "max_iterations": 1,
            "execution_mode": {"mode": "worktree", "name": "feature-1"},
        }
    )
    assert config.execution_mode == Worktree(name="feature-1")
    for bad in ({"mode": "worktree"}, {"mode": "elsewhere"}, {"mode": "worktree", "name": "../x"}):
        with pytest.raises(ValidationError):
            SessionConfig.model_validate(
                {"project_path": "/p", "max_iterations": 1, "execution_mode": bad}
            )


def test_records_are_immutable() -> None:
    config = SessionConfig(project_path=Path("/p"), max_iterations=2)
    with pytest.raises(ValidationError):
        config.max_iterations = 5  # type: ignore[misc]


def test_event_kinds_are_the_chart_vocabulary() -> None:
    assert list(EVENT_TYPES) == [
        "started",
        "iteration_started",
        "iteration_completed",
        "analysis_completed",
        "command_executed",
        "paused",
        "resumed",
        "completed",
        "failed",
    ]


def test_natural_empty_payloads_default() -> None:
    assert events.IterationCompleted().changes == IterationChanges()
    assert events.IterationCompleted().changes.is_empty
    assert events.AnalysisCompleted().results.metrics == {}
    assert events.Paused().reason == ""
    with pytest.raises(ValidationError):
        events.Failed()  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        events.CommandExecuted(command="", success=True)
    with pytest.raises(ValidationError):
        events.IterationStarted(number=0)


def test_changes_know_when_they_are_empty() -> None:
    assert not IterationChanges(lines_added=1).is_empty
    assert not IterationChanges(files_modified=(Path("a"),)).is_empty


@given(event=s.timestamped)
def test_trusted_construction_equals_validation(event: TimestampedEvent) -> None:
    trusted = TimestampedEvent.trusted(seq=event.seq, timestamp=event.timestamp, event=event.event)
    assert trusted == event
    assert trusted.model_dump_json() == event.model_dump_json()
    assert TimestampedEvent.model_validate_json(trusted.model_dump_json()) == event


def test_trusted_states_equal_validated_ones() -> None:
    assert state.Running.trusted(status="running", iteration=2, phase="idle") == state.Running(
        iteration=2, phase="idle"
    )
    assert state.Paused.trusted(status="paused", reason="r", iteration=1) == state.Paused(
        reason="r", iteration=1
    )


def test_timestamps_must_be_aware() -> None:
    with pytest.raises(ValidationError):
        TimestampedEvent(seq=1, timestamp=datetime(2026, 1, 1), event=events.Resumed())
    TimestampedEvent(seq=1, timestamp=datetime(2026, 1, 1, tzinfo=UTC), event=events.Resumed())
