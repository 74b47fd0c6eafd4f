"""Hypothesis strategies for every record (valid values only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from statecharts import (
    AnalysisResult,
    CommitInfo,
    Direct,
    ExecutedCommand,
    IterationChanges,
    IterationMetrics,
    PersistedSession,
    SessionCheckpoint,
    SessionConfig,
    SessionInfo,
    SessionOptions,
    SessionProgress,
    SessionSummary,
    StateSnapshot,
    TimestampedEvent,
    WorkflowConfig,
    Worktree,
    events,
    new_session_id,
    state,
)

text = st.text(max_size=20)
names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True)
paths = st.lists(names, min_size=1, max_size=3).map(lambda parts: Path(*parts))
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))
floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | floats | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)

commits = st.builds(
    CommitInfo,
    sha=st.from_regex(r"[0-9a-f]{7,40}", fullmatch=True),
    message=text,
    author=text,
    timestamp=st.none() | moments,
)
changes = st.builds(
    IterationChanges,
    files_modified=st.lists(paths, max_size=3).map(tuple),
    lines_added=st.integers(0, 10**6),
    lines_removed=st.integers(0, 10**6),
    commands_run=st.lists(text, max_size=3).map(tuple),
    git_commits=st.lists(commits, max_size=2).map(tuple),
)
analysis = st.builds(
    AnalysisResult,
    analyzer=text,
    summary=text,
    metrics=st.dictionaries(text, floats, max_size=3),
    details=st.dictionaries(text, json_values, max_size=3),
)
options = st.builds(SessionOptions)
modes = st.one_of(st.just(Direct()), names.map(lambda n: Worktree(name=n)))
workflows = st.builds(
    WorkflowConfig,
    name=text,
    steps=st.lists(st.dictionaries(text, json_values, max_size=2), max_size=3).map(tuple),
)
configs = st.builds(
    SessionConfig,
    project_path=paths,
    max_iterations=st.integers(1, 1000),
    workflow=workflows,
    execution_mode=modes,
    focus=st.none() | text,
    options=options,
)

session_events: st.SearchStrategy[Any] = st.one_of(
    st.builds(events.Started, config=st.none() | configs),
    st.builds(events.IterationStarted, number=st.integers(1, 10**6)),
    st.builds(events.IterationCompleted, changes=changes),
    st.builds(events.AnalysisCompleted, results=analysis),
    st.builds(
        events.CommandExecuted,
        command=text.filter(bool),
        success=st.booleans(),
        exit_code=st.none() | st.integers(-255, 255),
        duration=durations,
        output_size=st.integers(0, 10**9),
        output_tail=text,
    ),
    st.builds(events.Paused, reason=text),
    st.just(events.Resumed()),
    st.just(events.Completed()),
    st.builds(events.Failed, error=text.filter(bool)),
)
timestamped = st.builds(
    TimestampedEvent, seq=st.integers(1, 10**9), timestamp=moments, event=session_events
)
summaries = st.builds(
    SessionSummary,
    total_iterations=st.integers(0, 100),
    files_changed=st.integers(0, 100),
    total_commits=st.integers(0, 100),
    duration=durations,
    success_rate=st.floats(0, 1),
)
session_states: st.SearchStrategy[Any] = st.one_of(
    st.just(state.Created()),
    st.builds(
        state.Running, iteration=st.integers(0, 100), phase=st.sampled_from(["idle", "iterating"])
    ),
    st.builds(state.Paused, reason=text, iteration=st.integers(0, 100)),
    st.builds(state.Completed, summary=summaries),
    st.builds(state.Failed, error=text),
)
executed = st.builds(
    ExecutedCommand,
    command=text,
    success=st.booleans(),
    duration=durations,
    output_size=st.integers(0, 10**6),
    exit_code=st.none() | st.integers(0, 255),
    iteration=st.none() | st.integers(1, 100),
    timestamp=st.none() | moments,
)
metrics = st.builds(
    IterationMetrics,
    number=st.integers(1, 100),
    started_at=moments,
    completed_at=st.none() | moments,
    changes=st.none() | changes,
    commands=st.lists(executed, max_size=2).map(tuple),
    analysis=st.none() | analysis,
)
progresses = st.builds(
    SessionProgress,
    state=session_states,
    iterations_completed=st.integers(0, 100),
    total_iterations=st.integers(1, 100),
    files_changed=st.frozensets(paths, max_size=3),
    commands_executed=st.lists(executed, max_size=3).map(tuple),
    duration=durations,
    current_phase=st.none() | text,
    iterations=st.lists(metrics, max_size=2).map(tuple),
    started_at=st.none() | moments,
    running_since=st.none() | moments,
    last_analysis=st.none() | analysis,
    as_of=moments,
)
snapshots = st.builds(
    StateSnapshot,
    configuration=st.sampled_from([("created",), ("running", "idle"), ("paused",)]),
    history=st.sampled_from([{}, {"h": "iterating"}]),
    iteration=st.integers(0, 100),
    last_seq=st.integers(0, 10**6),
    state=session_states,
    progress=progresses,
)
checkpoints = st.builds(
    SessionCheckpoint,
    iteration=st.integers(0, 100),
    timestamp=moments,
    seq=st.integers(0, 10**6),
    state_snapshot=snapshots,
    resumable=st.booleans(),
    log_hash=st.none() | text,
)
session_ids = st.builds(new_session_id)
persisted = st.builds(
    PersistedSession,
    id=session_ids,
    config=configs,
    state=session_states,
    created_at=moments,
    events=st.lists(timestamped, max_size=3).map(tuple),
    checkpoints=st.lists(checkpoints, max_size=1).map(tuple),
)
infos = st.builds(
    SessionInfo,
    id=session_ids,
    state=session_states,
    config=configs,
    progress=progresses,
    created_at=moments,
)
