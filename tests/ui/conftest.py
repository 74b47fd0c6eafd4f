"""Fixtures for ``cook ui``: stores with sessions, the server as a person starts it, a browser.

The server is the real command, ``cook ui --port 0``, in a process of its
own; the tests read the URL it prints.  The browser is Debian's headless
``chromium`` driven through ``chromedriver`` by Selenium (nothing is
downloaded): where either is missing, the browser tests are skipped — except
in CI (``CI`` set), where that fails them.  Screenshots go to
``build/ui-artifacts/`` (``SESSIONCHART_UI_ARTIFACTS`` says elsewhere).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from persistence import TinyDBSessionStorage
from statecharts import (
    CommitInfo,
    InMemorySessionManager,
    IterationChanges,
    SessionConfig,
    SessionId,
    WorkflowConfig,
    Worktree,
)

from ..cook.cli import COOK, env
from ..postgres.conftest import pg_dsn, pg_schema, pg_store_url  # noqa: F401 - their fixtures

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TOKEN = "test-token-0123456789abcdef"
XSS = "<script>alert(1)</script>"
ROOT = Path(__file__).resolve().parents[2]


def artifacts() -> Path:
    """Where screenshots are written."""
    path = Path(os.environ.get("SESSIONCHART_UI_ARTIFACTS", ROOT / "build" / "ui-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip the browser tests without chromium (fail them in CI)."""
    if item.get_closest_marker("browser") is None:
        return
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        why = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {why}")
        pytest.skip(why)


# -- stores ------------------------------------------------------------------------------
async def fill(manager: InMemorySessionManager) -> dict[str, SessionId]:
    """A few sessions in every status; returns their ids by name."""
    ids: dict[str, SessionId] = {}

    def config(name: str, **extra: Any) -> SessionConfig:
        return SessionConfig(
            project_path="/nonexistent/project",
            max_iterations=3,
            workflow=WorkflowConfig(name=name),
            **extra,
        )

    created = await manager.create_session(config("build"))
    ids["created"] = created

    done = await manager.create_session(config("tests", execution_mode=Worktree(name="try-1")))
    await manager.start_session(done)
    for number in (1, 2):
        await manager.send(done, "iteration_started", number=number)
        await manager.send(
            done,
            "command_executed",
            command="pytest -q",
            success=number == 2,
            exit_code=0 if number == 2 else 1,
            duration=timedelta(seconds=number),
            output_tail=f"output of iteration {number}\n{XSS}\n",
        )
        await manager.send(done, "command_executed", command="ruff check", success=True)
        await manager.send(
            done,
            "iteration_completed",
            changes=IterationChanges(
                lines_added=10 * number,
                lines_removed=number,
                git_commits=(CommitInfo(sha="abcdef12", message=XSS),),
            ),
        )
    await manager.complete_session(done)
    ids["completed"] = done

    paused = await manager.create_session(config("lint"))
    await manager.start_session(paused)
    await manager.send(paused, "iteration_started", number=1)
    await manager.pause_session(paused, reason=f"lunch {XSS}")
    ids["paused"] = paused

    failed = await manager.create_session(config(XSS))
    await manager.start_session(failed)
    await manager.send(failed, "iteration_started", number=1)
    await manager.send(failed, "command_executed", command=XSS, success=False, exit_code=2)
    await manager.fail_session(failed, error=f"step {XSS} failed")
    ids["failed"] = failed

    running = await manager.create_session(config("tests"))
    await manager.start_session(running)
    await manager.send(running, "iteration_started", number=1)
    ids["running"] = running  # its manager closes: interrupted (its process is gone)
    return ids


def make_store(path: Path) -> dict[str, SessionId]:
    """A TinyDB store at ``path`` with :func:`fill`'s sessions."""

    async def main() -> dict[str, SessionId]:
        manager = await InMemorySessionManager.open(TinyDBSessionStorage(path, durability="none"))
        try:
            return await fill(manager)
        finally:
            await manager.aclose()

    return asyncio.run(main())


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, dict[str, SessionId]]:
    """A TinyDB store with a session in every status."""
    path = tmp_path / "store"
    return path, make_store(path)


# -- the server ----------------------------------------------------------------------------
class Server:
    """``cook ui`` running in a process of its own."""

    def __init__(self, process: subprocess.Popen[str], url: str, lines: list[str]) -> None:
        self.process = process
        self.url = url.split("?", 1)[0]
        self.token_url = url
        self.lines = lines

    def client(self, **options: Any) -> httpx.Client:
        """An HTTP client of the server (no token unless given)."""
        return httpx.Client(base_url=self.url, timeout=30, **options)

    def stop(self) -> tuple[int, str]:
        """Stop it as Ctrl-C would; its exit code and what it printed on stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return self.process.returncode, err


def start_server(store: str | Path, *args: str, cwd: Path | None = None, **extra: str) -> Server:
    """Start ``cook ui --store STORE --port 0 ARGS`` and wait for its URL."""
    process = subprocess.Popen(
        [str(COOK), "ui", "--store", str(store), "--port", "0", *args],
        cwd=cwd or tempfile.gettempdir(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**{"SESSIONCHART_UI_TOKEN": TOKEN, **extra}),
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            _, err = process.communicate()
            raise AssertionError(f"cook ui exited ({process.returncode}): {err}")
        lines.append(line)
        found = re.search(r"open (http://\S+)", line)
        if found:
            server = Server(process, found.group(1), lines)
            wait_ready(server.url)
            return server
    process.kill()
    raise AssertionError(f"cook ui printed no URL: {lines}")


def wait_ready(url: str) -> None:
    """Wait until the server answers."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "api/store", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("cook ui does not answer")
        time.sleep(0.1)


@pytest.fixture
def server(store: tuple[Path, dict[str, SessionId]]) -> Iterator[Server]:
    """``cook ui`` over :func:`store`, actions on."""
    running = start_server(store[0])
    yield running
    running.stop()


@pytest.fixture
def ids(store: tuple[Path, dict[str, SessionId]]) -> dict[str, SessionId]:
    """The ids of :func:`store`'s sessions, by status."""
    return store[1]


# -- the browser ---------------------------------------------------------------------------
@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), through chromedriver; a fresh profile each time."""
    from selenium import webdriver  # noqa: PLC0415 - only for the browser tests
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="cook-ui-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1200",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, name: str) -> Path:
    """Save what the browser shows as ``NAME.png`` among the artifacts (the whole page)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(int(height) + 40, 800), 4000))
    path = artifacts() / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
