"""``cook ui`` on the command line: its start-up, its errors, its warnings."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from statecharts import SessionId

from ..cook.cli import cook
from ..cook.startup import HEAVY, LIGHT, modules_of
from .conftest import start_server


def test_cook_ui_help_imports_nothing_heavy(tmp_path: Path) -> None:
    code, modules = modules_of("ui", "--help", cwd=tmp_path)
    assert code == 0
    heavy = (*HEAVY, "fastapi", "uvicorn")
    assert sorted(m for m in modules if m.split(".")[0] in heavy and m not in LIGHT) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "70000"], "expected a port number from 0 to 65535"),
        (["--port", "x"], "expected a port number"),
        (["--host", ""], "the host is empty"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], words: str) -> None:
    done = cook("ui", *args, cwd=tmp_path)
    assert done.code == 2 and words in done.err and done.err.count("\n") == 1


def test_no_store_is_not_found(tmp_path: Path) -> None:
    done = cook("ui", "--store", tmp_path / "nothing", "--port", "0", cwd=tmp_path)
    assert done.code == 3
    assert done.err.startswith("cook: error: no store at ")


def test_a_port_in_use_says_so(store: tuple[Path, dict[str, SessionId]], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = cook("ui", "--store", store[0], "--port", str(port), cwd=tmp_path)
    assert done.code == 4
    assert f"cannot listen on 127.0.0.1 port {port}" in done.err
    assert "give another --port" in done.err


def test_listening_beyond_this_machine_is_warned_about(
    store: tuple[Path, dict[str, SessionId]],
) -> None:
    server = start_server(store[0], "--host", "0.0.0.0")
    code, err = server.stop()
    assert code == 0
    assert "cook: warning: cook ui listens on 0.0.0.0, not only on this machine" in err


def test_it_prints_the_store_and_the_url_with_the_token(
    store: tuple[Path, dict[str, SessionId]],
) -> None:
    server = start_server(store[0], SESSIONCHART_UI_TOKEN="")  # a fresh token is made
    try:
        assert server.lines[0] == f"cook ui: {store[0]}\n"
        token = server.token_url.split("?token=", 1)[1]
        assert len(token) >= 32
        with server.client() as client:
            assert client.get(f"/?token={token}").status_code == 303
            wrong = client.get("/?token=nope")
            assert wrong.status_code == 403 and "wrong token" in wrong.text
    finally:
        server.stop()
