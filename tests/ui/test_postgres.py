"""``cook ui`` over a PostgreSQL store: the API, live events through LISTEN/NOTIFY, an action,
and the store's password never shown (in CI; skipped without a server elsewhere)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from persistence import PostgresSessionStorage
from statecharts import InMemorySessionManager, SessionConfig, SessionId, WorkflowConfig

from .conftest import TOKEN, fill, start_server
from .streams import read_stream

pytestmark = pytest.mark.postgres


async def _filled(url: str) -> dict[str, SessionId]:
    manager = await InMemorySessionManager.open(PostgresSessionStorage(url))
    try:
        return await fill(manager)
    finally:
        await manager.aclose()


def test_the_api_on_postgres_and_the_password_never_shown(
    pg_store_url: str, tmp_path: Path
) -> None:
    ids = asyncio.run(_filled(pg_store_url))
    password = urlsplit(pg_store_url).password
    assert password
    server = start_server(pg_store_url, cwd=tmp_path)
    seen: list[str] = list(server.lines)
    try:
        with server.client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            store = client.get("/api/store").json()
            assert store["kind"] == "postgresql" and ":***@" in store["store"]
            page = client.get("/api/sessions").json()
            assert [row["id"] for row in page["sessions"]] == sorted(ids.values(), reverse=True)
            detail = client.get(f"/api/sessions/{ids['completed']}").json()
            assert detail["chart"]["active"] == ["completed"]
            assert client.get(f"/api/sessions/{ids['paused']}").json()["chart"]["history"] == {
                "h": "iterating"
            }
            paused = client.post(f"/api/sessions/{ids['running']}/pause")
            assert paused.status_code == 200, paused.text
            assert paused.json()["status"] == "paused"
            refused = client.post(f"/api/sessions/{ids['failed']}/pause")
            assert refused.status_code == 409
            paths = ("/", f"/sessions/{ids['completed']}", "/api/openapi.json", "/nope")
            seen += [client.get(path).text for path in paths]
            seen += [store["store"], json.dumps(page), refused.text]
    finally:
        code, err = server.stop()
    seen.append(err)
    assert code == 0, err
    assert not [text for text in seen if f":{password}@" in text]


def test_an_event_of_another_process_arrives_through_notify(
    pg_store_url: str, tmp_path: Path
) -> None:
    async def create() -> SessionId:
        manager = await InMemorySessionManager.open(PostgresSessionStorage(pg_store_url))
        sid = await manager.create_session(
            SessionConfig(project_path=tmp_path, max_iterations=2, workflow=WorkflowConfig())
        )
        await manager.start_session(sid)
        await manager.aclose()
        return sid

    sid = asyncio.run(create())
    server = start_server(pg_store_url, cwd=tmp_path)
    try:
        received: list[Any] = []
        url = f"{server.url}api/sessions/{sid}/stream"
        reader = threading.Thread(
            target=lambda: received.extend(read_stream(url, {}, until=4, timeout=60)), daemon=True
        )
        reader.start()
        time.sleep(1.0)

        async def drive() -> None:
            manager = await InMemorySessionManager.open(
                PostgresSessionStorage(pg_store_url), recover=False
            )
            await manager.send(sid, "iteration_started", number=1)
            await manager.send(sid, "iteration_completed")
            await manager.complete_session(sid)
            await manager.aclose()

        asyncio.run(drive())
        reader.join(60)
        kinds = [json.loads(m["data"])["kind"] for m in received if m["event"] == "session-event"]
        assert kinds == ["started", "iteration_started", "iteration_completed", "completed"]
    finally:
        server.stop()
