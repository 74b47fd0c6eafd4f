"""The manager's API: lifecycle, queries, errors, progress, checkpoints."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from statecharts import (
    EVENT_TYPES,
    RECENT_COMMANDS,
    RECENT_ITERATIONS,
    CommitInfo,
    IllegalTransition,
    InMemorySessionManager,
    InvalidEvent,
    IterationChanges,
    ReplayError,
    SessionConfig,
    SessionError,
    SessionManager,
    SessionNotFound,
    SessionSummary,
    TimestampedEvent,
    events,
    is_session_id,
    state,
)
from statecharts._session import LiveSession

COMMIT = {"sha": "abcdef12", "message": "step"}


async def run_iteration(
    manager: InMemorySessionManager, sid: Any, number: int, **changes: Any
) -> None:
    await manager.send(sid, "iteration_started", number=number)
    await manager.send(sid, "command_executed", command=f"step {number}", success=number != 2)
    await manager.send(sid, "iteration_completed", changes=changes)


def test_the_manager_implements_the_protocol() -> None:
    assert isinstance(InMemorySessionManager(), SessionManager)


async def test_full_lifecycle(manager: InMemorySessionManager, config: SessionConfig) -> None:
    sid = await manager.create_session(config)
    assert is_session_id(sid)
    assert await manager.get_state(sid) == state.Created()
    assert await manager.get_events(sid) == []
    await manager.start_session(sid)
    assert await manager.get_state(sid) == state.Running(iteration=0, phase="idle")
    for number in (1, 2, 3):
        await run_iteration(
            manager,
            sid,
            number,
            files_modified=[f"f{number}.py", "common.py"],
            lines_added=number,
            git_commits=[{"sha": f"abc{number}def", "message": "m"}],
        )
    summary = await manager.complete_session(sid)
    assert isinstance(summary, SessionSummary)
    assert summary.total_iterations == 3
    assert summary.files_changed == 4
    assert summary.total_commits == 3
    assert summary.success_rate == pytest.approx(2 / 3)
    final = await manager.get_state(sid)
    assert final == state.Completed(summary=summary)
    log = await manager.get_events(sid)
    assert [e.seq for e in log] == list(range(1, 12))
    assert log[0].event == events.Started(config=config)  # the session's config is recorded
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(log))


async def test_a_new_session_has_made_no_progress(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    progress = await manager.get_progress(await manager.create_session(config))
    assert progress.state == state.Created()
    assert progress.current_phase is None
    assert (progress.iterations_completed, progress.total_iterations) == (0, 3)


async def in_second_iteration(manager: InMemorySessionManager, config: SessionConfig) -> Any:
    """A session whose first iteration changed ``a.py``, in its second: analysed, pytest ran."""
    sid = await manager.create_session(config)
    await manager.start_session(sid)
    await run_iteration(manager, sid, 1, files_modified=["a.py"])
    await manager.send(sid, "iteration_started", number=2)
    await manager.send(sid, "analysis_completed", results={"summary": "ok", "metrics": {"x": 1}})
    await manager.send(
        sid,
        "command_executed",
        command="pytest",
        success=True,
        exit_code=0,
        duration=timedelta(seconds=2),
        output_size=10,
    )
    return sid


async def test_progress_counts_the_files_and_commands_of_every_iteration(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    progress = await manager.get_progress(await in_second_iteration(manager, config))
    assert progress.iterations_completed == 1
    assert progress.files_changed == {Path("a.py")}
    assert [c.command for c in progress.commands_executed] == ["step 1", "pytest"]
    assert [c.iteration for c in progress.commands_executed] == [1, 2]
    assert progress.commands_executed[1].exit_code == 0


async def test_the_phase_names_the_iteration_and_its_latest_command(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    progress = await manager.get_progress(await in_second_iteration(manager, config))
    assert progress.current_phase == "iteration 2/3: pytest"


async def test_each_iteration_is_kept_with_its_changes_and_commands(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    progress = await manager.get_progress(await in_second_iteration(manager, config))
    assert [m.number for m in progress.iterations] == [1, 2]
    first, running = progress.iterations
    assert first.completed_at is not None and first.duration is not None
    assert first.changes == IterationChanges(files_modified=(Path("a.py"),))
    assert [c.command for c in first.commands] == ["step 1"]
    assert running.completed_at is None and running.duration is None


async def test_the_latest_analysis_is_kept_with_its_iteration(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    progress = await manager.get_progress(await in_second_iteration(manager, config))
    running = progress.iterations[-1]
    assert running.analysis is not None and running.analysis.summary == "ok"
    assert progress.last_analysis == running.analysis


async def test_a_running_session_says_since_when(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    progress = await manager.get_progress(await in_second_iteration(manager, config))
    assert progress.running_since is not None and progress.started_at is not None


async def test_pausing_stops_the_clock_and_shows_the_reason(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await in_second_iteration(manager, config)
    await manager.pause_session(sid, reason="lunch")
    paused = await manager.get_progress(sid)
    assert paused.current_phase == "paused: lunch"
    assert paused.running_since is None
    later = await manager.get_progress(sid)
    assert later.duration == paused.duration


async def test_resuming_shows_the_iteration_again_and_the_clock_goes_on(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await in_second_iteration(manager, config)
    await manager.pause_session(sid, reason="lunch")
    paused = await manager.get_progress(sid)
    await manager.resume_session(sid)
    resumed = await manager.get_progress(sid)
    assert resumed.current_phase == "iteration 2/3"
    assert resumed.running_since is not None
    assert resumed.duration >= paused.duration


async def test_analysis_between_iterations_is_kept(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    await manager.start_session(sid)
    await manager.send(sid, "analysis_completed", results={"analyzer": "lint"})
    await manager.send(sid, "command_executed", command="ls", success=True)
    progress = await manager.get_progress(sid)
    assert progress.last_analysis is not None and progress.last_analysis.analyzer == "lint"
    assert progress.commands_executed[0].iteration is None
    assert progress.current_phase == "between iterations"


async def test_unknown_event_name_lists_the_valid_ones(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    with pytest.raises(InvalidEvent, match="unknown event 'strated'") as caught:
        await manager.send(sid, "strated")
    assert caught.value.valid_names == tuple(EVENT_TYPES)
    assert "iteration_started" in str(caught.value)
    assert isinstance(caught.value, SessionError)


@pytest.mark.parametrize(
    ("name", "payload", "words"),
    [
        ("iteration_started", {}, "number: Field required"),
        ("iteration_started", {"number": "two"}, "number: Input should be a valid integer"),
        ("iteration_started", {"number": 1, "colour": "red"}, "colour: Extra inputs"),
        ("command_executed", {"command": "x"}, "success: Field required"),
        ("failed", {}, "error: Field required"),
        ("iteration_completed", {"changes": {"lines_added": -1}}, "greater than or equal to 0"),
        ("analysis_completed", {"results": {"metrics": {"x": float("nan")}}}, "finite number"),
    ],
)
async def test_bad_payloads_are_refused_with_pydantic_errors(
    manager: InMemorySessionManager,
    config: SessionConfig,
    name: str,
    payload: dict[str, Any],
    words: str,
) -> None:
    sid = await manager.create_session(config)
    await manager.start_session(sid)
    if name == "iteration_completed":
        await manager.send(sid, "iteration_started", number=1)
    before = await manager.get_events(sid)
    with pytest.raises(InvalidEvent, match=words) as caught:
        await manager.send(sid, name, **payload)
    assert caught.value.errors
    assert caught.value.event_name == name
    assert await manager.get_events(sid) == before


async def test_record_event_refuses_what_is_not_an_event(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    with pytest.raises(InvalidEvent, match="expected a session event, got dict"):
        await manager.record_event(sid, {"kind": "started"})  # type: ignore[arg-type]
    with pytest.raises(InvalidEvent, match="expected a SessionConfig"):
        await manager.create_session({"project_path": "."})  # type: ignore[arg-type]


async def test_started_must_carry_the_sessions_config(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    other = config.model_copy(update={"max_iterations": 9})
    with pytest.raises(InvalidEvent, match="not the session's"):
        await manager.record_event(sid, events.Started(config=other))
    recorded = await manager.record_event(sid, events.Started(config=config))
    assert isinstance(recorded, TimestampedEvent) and recorded.seq == 1


async def test_unknown_session_id(manager: InMemorySessionManager) -> None:
    for call in (
        manager.get_state("nope"),  # type: ignore[arg-type]
        manager.get_progress("nope"),  # type: ignore[arg-type]
        manager.get_events("nope"),  # type: ignore[arg-type]
        manager.send("nope", "started"),  # type: ignore[arg-type]
        manager.save_checkpoint("nope"),  # type: ignore[arg-type]
        manager.restore_session("nope"),  # type: ignore[arg-type]
    ):
        with pytest.raises(SessionNotFound, match="unknown session id 'nope'"):
            await call
    assert "nope" not in manager


async def test_illegal_transition_says_why(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    with pytest.raises(IllegalTransition, match="no transition from created") as caught:
        await manager.send(sid, "completed")
    assert caught.value.allowed == ("started", "failed")
    await manager.start_session(sid)
    with pytest.raises(IllegalTransition, match="guard iteration_is_next failed"):
        await manager.send(sid, "iteration_started", number=2)
    for number in (1, 2, 3):
        await run_iteration(manager, sid, number)
    with pytest.raises(IllegalTransition, match="within_max_iterations failed"):
        await manager.send(sid, "iteration_started", number=4)
    await manager.fail_session(sid, error="gave up")
    with pytest.raises(IllegalTransition, match=r"\(the state is final\); allowed: none"):
        await manager.resume_session(sid)
    assert await manager.get_state(sid) == state.Failed(error="gave up")


async def test_sessions_are_isolated(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    first = await manager.create_session(config)
    second = await manager.create_session(config)
    assert first < second  # ids sort by creation
    await manager.start_session(first)
    assert await manager.get_state(second) == state.Created()
    assert await manager.get_events(second) == []


async def test_list_active_sessions(manager: InMemorySessionManager, config: SessionConfig) -> None:
    ids = [await manager.create_session(config) for _ in range(4)]
    await manager.start_session(ids[1])
    await manager.start_session(ids[2])
    await manager.complete_session(ids[2])
    await manager.fail_session(ids[3], error="x")
    active = await manager.list_active_sessions()
    assert [info.id for info in active] == [ids[0], ids[1]]
    assert [info.state.status for info in active] == ["created", "running"]
    assert active[1].progress.state == active[1].state
    assert active[1].config == config
    every = await manager.list_sessions()
    assert [info.id for info in every] == ids
    assert [i.id for i in await manager.list_sessions(["failed"])] == [ids[3]]
    assert len(manager) == 4
    info = await manager.get_info(ids[1])
    assert info.id == ids[1]


async def test_get_events_after_seq(manager: InMemorySessionManager, config: SessionConfig) -> None:
    sid = await manager.create_session(config)
    await manager.start_session(sid)
    await run_iteration(manager, sid, 1)
    log = await manager.get_events(sid)
    assert await manager.get_events(sid, after_seq=2) == log[2:]
    assert await manager.get_events(sid, after_seq=len(log)) == []


async def test_checkpoint_then_restore(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    await manager.start_session(sid)
    await run_iteration(manager, sid, 1, files_modified=["x"])
    await manager.send(sid, "iteration_started", number=2)
    checkpoint = await manager.save_checkpoint(sid)
    assert checkpoint.seq == 5
    assert checkpoint.iteration == 2
    assert checkpoint.resumable
    assert checkpoint.state_snapshot.configuration == ("running", "iterating")
    await manager.send(sid, "command_executed", command="x", success=False)
    await manager.pause_session(sid, reason="r")
    live = await manager._reading(sid)
    restored_state = await manager.restore_session(sid)
    rebuilt = await manager._reading(sid)
    assert rebuilt is not live
    assert restored_state == live.state
    assert rebuilt.same_as(live)
    assert await manager.get_events(sid) == live.events
    # and it carries on
    await manager.resume_session(sid)
    await manager.send(sid, "iteration_completed")
    assert (await manager.get_progress(sid)).iterations_completed == 2


async def test_a_restore_mid_iteration_carries_on_like_the_original(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    await manager.start_session(sid)
    await manager.send(sid, "iteration_started", number=1)
    await manager.send(sid, "command_executed", command="make", success=True)
    await manager.send(sid, "analysis_completed", results={"summary": "half way"})
    await manager.save_checkpoint(sid)
    await manager.restore_session(sid)
    await manager.send(sid, "command_executed", command="pytest", success=False)
    progress = await manager.get_progress(sid)
    assert progress.current_phase == "iteration 1/3: pytest"
    [running] = progress.iterations
    assert [c.command for c in running.commands] == ["make", "pytest"]
    assert running.analysis is not None and running.analysis.summary == "half way"
    assert (progress.commands_total, progress.commands_succeeded) == (2, 1)
    live = await manager._reading(sid)
    replayed = LiveSession(live.id, live.config, live.created_at)
    replayed.replay(await manager.get_events(sid))
    assert replayed.same_as(live)


async def test_progress_keeps_counters_for_everything_and_the_latest_in_full(
    manager: InMemorySessionManager,
) -> None:
    config = SessionConfig(project_path=Path("/p"), max_iterations=RECENT_ITERATIONS + 5)
    sid = await manager.create_session(config)
    await manager.start_session(sid)
    for number in range(1, RECENT_ITERATIONS + 6):
        await manager.send(sid, "iteration_started", number=number)
        await manager.send(
            sid, "command_executed", command=f"step {number}", success=number % 2 == 0
        )
        changes = {"lines_added": 2, "git_commits": [COMMIT]} if number % 5 == 0 else {}
        await manager.send(sid, "iteration_completed", changes=changes)
    progress = await manager.get_progress(sid)
    total = RECENT_ITERATIONS + 5
    assert progress.iterations_completed == total
    assert [m.number for m in progress.iterations] == list(range(6, total + 1))
    assert len(progress.commands_executed) == RECENT_COMMANDS
    assert progress.commands_executed[-1].command == f"step {total}"
    assert (progress.commands_total, progress.commands_succeeded) == (total, total // 2)
    assert progress.success_rate == pytest.approx((total // 2) / total)
    assert (progress.commits_total, progress.lines_added) == (total // 5, 2 * (total // 5))
    summary = await manager.complete_session(sid)
    assert summary.total_commits == total // 5


async def test_restore_without_checkpoint_replays_everything(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    await manager.start_session(sid)
    await run_iteration(manager, sid, 1)
    live = await manager._reading(sid)
    await manager.restore_session(sid)
    assert (await manager._reading(sid)).same_as(live)


async def test_a_finished_session_checkpoint_is_not_resumable(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    await manager.fail_session(sid, error="x")
    assert not (await manager.save_checkpoint(sid)).resumable


async def test_to_chart_gives_an_engine_in_the_same_place(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    await manager.start_session(sid)
    await manager.send(sid, "iteration_started", number=1)
    await manager.pause_session(sid)
    chart = (await manager._reading(sid)).to_chart()
    assert {s.id for s in chart.configuration} == {"paused"}
    chart.send("resumed")
    assert {s.id for s in chart.configuration} == {"running", "iterating"}
    chart.send("iteration_completed")
    assert chart.model.iterations_completed == 1


def test_commit_info_requires_a_sha() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        CommitInfo(sha="ab")


async def test_replay_refuses_gaps_and_illegal_events(
    manager: InMemorySessionManager, config: SessionConfig
) -> None:
    sid = await manager.create_session(config)
    await manager.start_session(sid)
    await run_iteration(manager, sid, 1)
    live = await manager._reading(sid)
    log = await manager.get_events(sid)
    fresh = LiveSession(live.id, live.config, live.created_at)
    with pytest.raises(ReplayError, match="cannot replay seq 3: expected seq 2"):
        fresh.replay([log[0], log[2]])
    fresh = LiveSession(live.id, live.config, live.created_at)
    doubled = [*log, log[1].model_copy(update={"seq": 5})]  # iteration 1 once more
    with pytest.raises(ReplayError, match=r"seq 5.*guard iteration_is_next failed") as caught:
        fresh.replay(doubled)
    assert (caught.value.session_id, caught.value.seq) == (sid, 5)
