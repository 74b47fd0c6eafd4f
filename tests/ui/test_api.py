"""The JSON API of ``cook ui``, with httpx against the running server (TinyDB)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from persistence import TinyDBSessionStorage
from statecharts import InMemorySessionManager, SessionConfig, SessionId, WorkflowConfig

from .conftest import TOKEN, XSS, Server, start_server
from .streams import read_stream

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_sessions_newest_first_with_the_filters_of_cook_sessions(
    server: Server, ids: dict[str, SessionId]
) -> None:
    with server.client() as client:
        page = client.get("/api/sessions").json()
        assert page["total"] == 5 and page["pages"] == 1
        assert [row["id"] for row in page["sessions"]] == sorted(ids.values(), reverse=True)
        by_id = {row["id"]: row for row in page["sessions"]}
        assert by_id[ids["running"]]["status"] == "interrupted"
        assert by_id[ids["completed"]]["mode"] == "worktree"
        assert by_id[ids["completed"]]["worktree"] == "try-1"
        assert by_id[ids["completed"]]["iterations_completed"] == 2
        assert by_id[ids["paused"]]["outcome"] == f"lunch {XSS}"
        assert by_id[ids["paused"]]["actions"] == ["resume"]
        assert by_id[ids["completed"]]["actions"] == []

        paused = client.get("/api/sessions", params={"status": "paused"}).json()
        assert [row["id"] for row in paused["sessions"]] == [ids["paused"]]
        two = client.get("/api/sessions", params=[("status", "paused"), ("status", "failed")])
        assert {row["id"] for row in two.json()["sessions"]} == {ids["paused"], ids["failed"]}
        tests = client.get("/api/sessions", params={"workflow": "tests"}).json()
        assert {row["id"] for row in tests["sessions"]} == {ids["completed"], ids["running"]}
        assert client.get("/api/sessions", params={"since": "1h"}).json()["total"] == 5
        assert client.get("/api/sessions", params={"since": "2999-01-01"}).json()["total"] == 0

        first = client.get("/api/sessions", params={"per_page": 2}).json()
        third = client.get("/api/sessions", params={"per_page": 2, "page": 3}).json()
        assert first["pages"] == 3 and len(first["sessions"]) == 2
        assert [row["id"] for row in third["sessions"]] == [min(ids.values())]


def test_one_session_its_log_its_output_and_its_chart(
    server: Server, ids: dict[str, SessionId]
) -> None:
    sid = ids["completed"]
    with server.client() as client:
        detail = client.get(f"/api/sessions/{sid}").json()
        assert detail["info"]["id"] == sid
        assert detail["info"]["progress"]["commits_total"] == 2
        assert detail["info"]["progress"]["lines_added"] == 30
        assert detail["last_seq"] == 10
        assert detail["chart"]["active"] == ["completed"]
        assert ["idle", "completed", "completed"] in detail["chart"]["visited_transitions"]
        assert ["iterating", "command_executed", None] in detail["chart"]["visited_transitions"]

        log = client.get(f"/api/sessions/{sid}/events").json()
        assert [e["seq"] for e in log["events"]] == list(range(1, 11)) and not log["more"]
        command = log["events"][2]
        assert command["kind"] == "command_executed" and command["has_output"]
        assert command["event"]["event"]["output_tail"] == ""  # on demand only
        assert command["text"].startswith("pytest -q: FAILED (exit 1)")
        some = client.get(f"/api/sessions/{sid}/events", params={"after": 8, "limit": 1}).json()
        assert [e["seq"] for e in some["events"]] == [9] and some["more"]
        whole = client.get(f"/api/sessions/{sid}/events/3").json()
        assert whole["event"]["output_tail"] == f"output of iteration 1\n{XSS}\n"

        svg = client.get(f"/api/sessions/{sid}/chart.svg")
        assert svg.headers["content-type"] == "image/svg+xml"
        assert svg.text.startswith("<svg") and "active" in svg.text

        paused = client.get(f"/api/sessions/{ids['paused']}").json()
        assert paused["chart"]["active"] == ["paused"]
        assert paused["chart"]["history"] == {"h": "iterating"}


def test_the_api_is_described_by_openapi(server: Server) -> None:
    with server.client() as client:
        spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/sessions",
        "/api/sessions/{session_id}",
        "/api/sessions/{session_id}/events",
        "/api/sessions/{session_id}/stream",
        "/api/sessions/{session_id}/{action}",
        "/api/stream",
    ):
        assert path in paths, path
    assert "SessionInfo" in spec["components"]["schemas"]


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/sessions/nope", 400, "invalid session id 'nope'"),
        ("/api/sessions/" + "0" * 26, 404, "unknown session id '00000000000000000000000000'"),
        ("/api/sessions?status=sleeping", 400, "unknown status 'sleeping'"),
        ("/api/sessions?since=yesterday", 400, "since: expected a duration ago"),
        ("/api/sessions?page=abc", 400, "page: Input should be a valid integer"),
        ("/api/sessions?page=0", 400, "page: Input should be greater than or equal to 1"),
        ("/api/sessions?page=99999999999999999999", 400, "page: Input should be less than"),
        ("/api/sessions?page=999", 404, "page 999 is past the last page (1) of 5 sessions"),
        ("/api/sessions?per_page=100000", 400, "per_page: Input should be less than"),
        ("/api/sessions/{id}/events?limit=5000", 400, "limit: Input should be less than"),
        ("/api/sessions/{id}/events?after=-1", 400, "after: Input should be greater than"),
        ("/api/sessions/{id}/events/0", 400, "seq: Input should be greater than"),
        ("/api/sessions/{id}/events/999", 404, "has no event 999"),
        ("/api/nothing-here", 404, "no such page"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    server: Server, ids: dict[str, SessionId], path: str, status: int, words: str
) -> None:
    with server.client() as client:
        answer = client.get(path.replace("{id}", ids["completed"]))
    assert answer.status_code == status
    body = answer.json()
    assert words in body["error"], body
    assert body["status"] == status
    assert "Traceback" not in answer.text


def test_a_bad_page_request_is_a_page_saying_so(server: Server) -> None:
    with server.client() as client:
        answer = client.get("/sessions/<img src=x onerror=alert(1)>")
        assert answer.status_code == 400
        assert "text/html" in answer.headers["content-type"]
        assert "invalid session id &#39;&lt;img src=x onerror=alert(1)&gt;&#39;" in answer.text
        assert "<img src=x" not in answer.text
        assert client.get("/?page=7").status_code == 404


def test_actions_need_the_token_and_the_same_origin(
    server: Server, ids: dict[str, SessionId]
) -> None:
    sid = ids["running"]
    with server.client() as client:
        bare = client.post(f"/api/sessions/{sid}/pause")
        assert bare.status_code == 403 and "needs the token" in bare.json()["error"]
        wrong = client.post(f"/api/sessions/{sid}/pause", headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 403
        elsewhere = client.post(
            f"/api/sessions/{sid}/pause", headers={**AUTH, "Origin": "http://evil.example"}
        )
        assert elsewhere.status_code == 403 and "cross-site" in elsewhere.json()["error"]
        fetched = client.post(
            f"/api/sessions/{sid}/pause", headers={**AUTH, "Sec-Fetch-Site": "cross-site"}
        )
        assert fetched.status_code == 403
        assert client.get("/api/sessions").json()["total"] == 5  # nothing was done


def test_the_host_header_must_name_the_server(server: Server) -> None:
    with server.client() as client:
        answer = client.get("/api/sessions", headers={"Host": "evil.example:8420"})
    assert answer.status_code == 400 and "Host" in answer.json()["error"]


def test_pause_an_interrupted_session_and_refuse_an_illegal_action(
    server: Server, ids: dict[str, SessionId]
) -> None:
    with server.client(headers=AUTH) as client:
        done = client.post(f"/api/sessions/{ids['running']}/pause")
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "paused"
        row = client.get(f"/api/sessions/{ids['running']}").json()["row"]
        assert row["state"] == {"status": "paused", "reason": "paused from cook ui", "iteration": 1}

        refused = client.post(f"/api/sessions/{ids['completed']}/pause")
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert f"cannot 'paused' session {ids['completed']}" in error or "paused" in error
        assert "final" in error

        unknown = client.post(f"/api/sessions/{ids['completed']}/explode")
        assert unknown.status_code == 404 and "no action 'explode'" in unknown.json()["error"]
        missing = client.post(f"/api/sessions/{'0' * 26}/pause")
        assert missing.status_code == 404


def test_resume_runs_cook_resume_and_says_why_it_cannot(
    server: Server, ids: dict[str, SessionId]
) -> None:
    with server.client(headers=AUTH) as client:
        answer = client.post(f"/api/sessions/{ids['paused']}/resume")
    assert answer.status_code == 400, answer.text
    assert "the project of session" in answer.json()["error"]  # /nonexistent/project
    assert "/nonexistent/project" in answer.json()["error"]


def test_read_only_takes_no_action(store: tuple[Path, dict[str, SessionId]]) -> None:
    path, ids = store
    server = start_server(path, "--read-only")
    try:
        with server.client(headers=AUTH) as client:
            assert client.get("/api/store").json()["read_only"] is True
            rows = client.get("/api/sessions").json()["sessions"]
            assert all(row["actions"] == [] for row in rows)
            refused = client.post(f"/api/sessions/{ids['running']}/pause")
            assert refused.status_code == 403 and "read-only" in refused.json()["error"]
            page = client.get(f"/sessions/{ids['paused']}").text
            assert "data-action=" not in page
    finally:
        code, _ = server.stop()
    assert code == 0


def test_a_reconnecting_stream_catches_up_by_seq(server: Server, ids: dict[str, SessionId]) -> None:
    url = f"{server.url}api/sessions/{ids['completed']}/stream"
    got = read_stream(url, {"Last-Event-ID": "7"}, until=4)
    assert [m.get("id") for m in got] == ["8", "9", "10", None]
    assert got[-1]["event"] == "end"
    assert [json.loads(m["data"])["seq"] for m in got[:-1]] == [8, 9, 10]
    with httpx.Client() as client:
        bad = client.get(url, headers={"Last-Event-ID": "x"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["error"]


def test_events_recorded_by_another_process_arrive_live(tmp_path: Path) -> None:
    path = tmp_path / "store"

    async def create() -> SessionId:
        manager = await InMemorySessionManager.open(TinyDBSessionStorage(path))
        sid = await manager.create_session(
            SessionConfig(project_path=tmp_path, max_iterations=5, workflow=WorkflowConfig())
        )
        await manager.aclose()
        return sid

    sid = asyncio.run(create())
    server = start_server(path)
    try:
        url = f"{server.url}api/sessions/{sid}/stream"
        changes: list[str] = []
        watcher = threading.Thread(target=_watch_changes, args=(server.url, changes), daemon=True)
        watcher.start()
        received: list[Any] = []
        reader = threading.Thread(
            target=lambda: received.extend(read_stream(url, {}, until=6, timeout=60)), daemon=True
        )
        reader.start()
        time.sleep(1.0)

        async def drive() -> None:  # this test's process is "another process" for the server
            manager = await InMemorySessionManager.open(TinyDBSessionStorage(path))
            await manager.start_session(sid)
            await manager.send(sid, "iteration_started", number=1)
            await manager.send(sid, "command_executed", command="make", success=True)
            await manager.send(sid, "iteration_completed")
            await manager.complete_session(sid)
            await manager.aclose()

        asyncio.run(drive())
        reader.join(60)
        kinds = [json.loads(m["data"])["kind"] for m in received if m["event"] == "session-event"]
        assert kinds == [
            "started",
            "iteration_started",
            "command_executed",
            "iteration_completed",
            "completed",
        ]
        assert received[-1]["event"] == "end"
        deadline = time.monotonic() + 10
        while not any(sid in change for change in changes) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(sid in change for change in changes)
    finally:
        server.stop()


def _watch_changes(base: str, into: list[str]) -> None:
    try:
        with httpx.stream("GET", f"{base}api/stream", timeout=30) as answer:
            into.extend(line for line in answer.iter_lines() if line.startswith("data: "))
    except httpx.HTTPError:
        pass


def test_the_server_stops_cleanly_on_ctrl_c(server: Server) -> None:
    code, err = server.stop()
    assert code == 0, err
    assert "Traceback" not in err
