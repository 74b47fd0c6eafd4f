"""Reading sessions through the CLI: sessions, show, events, watch, diagram, verify, repair."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from .cli import cook, only_session, start, wait_for, write_workflow

TWO_STEPS = """\
name: two
max_iterations: 2
steps:
  - name: write
    shell: echo "$COOK_ITERATION" >> out.txt
  - name: maybe wait
    shell: 'if [ -n "$MARK" ] && [ "$COOK_ITERATION" = 2 ]; then touch "$MARK"; sleep 1; fi'
"""


@pytest.fixture
def finished(repo: Path, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    """A project with one completed session."""
    workflow = write_workflow(tmp_path / "wf.yaml", TWO_STEPS)
    assert cook("run", workflow, cwd=repo).code == 0
    return only_session(repo)


def test_sessions_lists_with_filters(repo: Path, tmp_path: Path, finished: dict) -> None:  # type: ignore[type-arg]
    workflow = write_workflow(tmp_path / "fail.yaml", "- shell: 'false'\n")
    assert cook("run", workflow, "-n", "2", "--fail-fast", "--worktree", "f", cwd=repo).code == 1
    table = cook("sessions", cwd=repo).out.splitlines()
    assert table[0].split() == ["ID", "STATUS", "ITERATION", "DURATION", "MODE", "WORKFLOW"]
    assert len(table) == 3  # newest first
    assert "failed" in table[1] and "0/2" in table[1] and "worktree:f" in table[1]
    assert finished["id"] in table[2] and "completed" in table[2] and "2/2" in table[2]
    failed = cook("sessions", "--status", "failed", "--json", cwd=repo).json()
    assert [s["state"]["status"] for s in failed] == ["failed"]
    both = cook("sessions", "--status", "failed", "--status", "completed", "--json", cwd=repo)
    assert len(both.json()) == 2
    assert cook("sessions", "--active", cwd=repo).out == "no sessions\n"
    newest = cook("sessions", "--limit", "1", cwd=repo).out.splitlines()
    assert len(newest) == 3 and "failed" in newest[1]
    assert newest[2] == "(the newest 1 shown: --limit N shows more, --limit 0 all)"
    name = finished["config"]["workflow"]["name"]
    named = cook("sessions", "--workflow", name, "--json", cwd=repo).json()
    assert [s["id"] for s in named] == [finished["id"]]
    assert cook("sessions", "--since", "1h", "--json", cwd=repo).json() != []
    assert cook("sessions", "--since", "2099-01-01", cwd=repo).out == "no sessions\n"
    for bad, says in [("--limit", "-1"), ("--limit", "x"), ("--since", "3 fortnights")]:
        done = cook("sessions", bad, says, cwd=repo)
        assert done.code == 2 and done.err.count("\n") == 1, done.err


def test_show_a_session(repo: Path, finished: dict) -> None:  # type: ignore[type-arg]
    text = cook("show", finished["id"], cwd=repo).out
    assert f"session   {finished['id']}" in text
    assert "status    completed" in text
    assert "progress  2/2 iterations, 1 file changed, 4 commands" in text
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("ITERATION"))
    assert [line.split()[0] for line in lines[header + 1 : header + 3]] == ["1", "2"]
    assert "2/2 ok" in lines[header + 1]
    as_json = cook("show", finished["id"], "--json", cwd=repo).json()
    assert as_json["id"] == finished["id"]
    assert len(as_json["progress"]["iterations"]) == 2


def test_show_lists_failed_commands(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", "- shell: exit 7\n- shell: echo x >> x\n")
    assert cook("run", workflow, "-n", "1", cwd=repo).code == 7  # completed, a step failed
    text = cook("show", only_session(repo)["id"], cwd=repo).out
    assert "failed commands:\n  iteration 1: exit 7 (exit 7)" in text


def test_events_plain_and_json(repo: Path, finished: dict) -> None:  # type: ignore[type-arg]
    plain = cook("events", finished["id"], cwd=repo).out.splitlines()
    assert [line.split()[0] for line in plain] == [str(n) for n in range(1, len(plain) + 1)]
    assert plain[0].split()[3:] == ["started", "session", "started"]
    lines = cook("events", finished["id"], "--json", cwd=repo).json_lines()
    assert [line["seq"] for line in lines] == list(range(1, len(plain) + 1))
    assert lines[-1]["event"]["kind"] == "completed"


def test_events_follow_and_watch_a_session_run_by_another_process(
    repo: Path, tmp_path: Path
) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", TWO_STEPS)
    mark = tmp_path / "mark"
    runner = start("run", workflow, cwd=repo, MARK=str(mark))
    wait_for(mark)  # the session is in its second iteration, in another process
    session_id = only_session(repo)["id"]
    follower = start("events", session_id, "--follow", "--json", cwd=repo)
    watcher = start("watch", session_id, cwd=repo)
    runner.communicate(timeout=60)
    assert runner.returncode == 0
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    seqs = [int(line.split('"seq":')[1].split(",")[0]) for line in out.splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert '"kind":"completed"' in out.splitlines()[-1]
    watched, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert "iteration 2 started" in watched
    assert watched.rstrip().endswith(f"session {session_id}: completed")


def test_following_stops_on_ctrl_c(repo: Path, tmp_path: Path) -> None:
    workflow = write_workflow(tmp_path / "wf.yaml", TWO_STEPS)
    mark = tmp_path / "mark"
    runner = start("run", workflow, cwd=repo, MARK=str(mark), WAIT="1")
    wait_for(mark)
    runner.send_signal(signal.SIGINT)  # the session is paused: it may never end
    runner.communicate(timeout=60)
    follower = start("events", only_session(repo)["id"], "--follow", cwd=repo)
    time.sleep(1)
    follower.send_signal(signal.SIGINT)
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 130
    assert "paused" in out
    assert err == "cook: interrupted\n"


def test_diagram_formats(repo: Path) -> None:
    dot = cook("diagram", cwd=repo)
    assert dot.code == 0 and dot.out.startswith("// generated from statecharts.SessionChart")
    mermaid = cook("diagram", "--format", "mermaid", cwd=repo).out
    assert mermaid.splitlines()[0] == "stateDiagram-v2"
    table = cook("diagram", "--format", "table", cwd=repo).out
    assert "| paused " in table  # a row per transition (python-statemachine's table)


@pytest.mark.needs_dot
def test_diagram_pictures(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "chart.svg"
    assert cook("diagram", "--format", "svg", "-o", target, cwd=repo).code == 0
    assert target.read_text().lstrip().startswith("<?xml")
    no_dot = tmp_path / "empty-bin"
    no_dot.mkdir()
    done = cook("diagram", "--format", "png", cwd=repo, PATH=str(no_dot))
    assert done.code == 4
    assert "Install Graphviz" in done.err and done.err.count("\n") == 1


def test_verify_and_repair_a_damaged_store(repo: Path, finished: dict) -> None:  # type: ignore[type-arg]
    assert cook("verify", cwd=repo).code == 0
    log = repo / ".sessionchart" / "sessions" / finished["id"] / "events.jsonl"
    data = log.read_bytes()
    log.write_bytes(data + b'{"seq":99,"half')  # a torn last line: opening cuts it, no loss
    verified = cook("verify", cwd=repo)
    assert verified.code == 0 and "note: torn_tail" in verified.out, verified.out
    middle = len(data) // 2
    log.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :])  # damage
    verified = cook("verify", cwd=repo)
    assert verified.code == 1
    assert "checksum_mismatch" in verified.out
    report = cook("verify", "--json", cwd=repo).json()
    assert report["ok"] is False and report["problems"][0]["session_id"] == finished["id"]
    repaired = cook("repair", cwd=repo)
    assert repaired.code == 0, repaired.out
    assert cook("verify", cwd=repo).code == 0
    assert list(log.parent.glob("events.jsonl.corrupt-*"))  # a copy was kept


def test_what_a_workflow_says_is_shown_on_one_line(repo: Path, tmp_path: Path) -> None:
    """A workflow named with a newline or a terminal escape broke `cook sessions`' table."""
    workflow = write_workflow(
        tmp_path / "wf.yaml", 'name: "two\\nlines \\e[2J"\nsteps:\n  - shell: echo x >> x\n'
    )
    assert cook("run", workflow, "-n", "1", cwd=repo).code == 0
    table = cook("sessions", cwd=repo).out.splitlines()
    assert len(table) == 2
    assert table[1].endswith("two\\nlines \\x1b[2J")
    shown = cook("show", only_session(repo)["id"], cwd=repo).out
    assert "workflow  two\\nlines \\x1b[2J in " in shown and "\x1b" not in shown
