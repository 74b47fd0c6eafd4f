"""``cook ui`` as a person uses it, in Debian's headless Chromium (Selenium + chromedriver).

Each page visited is saved as a screenshot among the artifacts
(``build/ui-artifacts/``); the README's pictures are two of them.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from persistence import TinyDBSessionStorage
from statecharts import SessionId

from ..cook.cli import start as start_cook
from ..cook.cli import write_workflow
from ..cook.repos import make_repo
from .conftest import TOKEN, XSS, screenshot, start_server

pytestmark = [pytest.mark.browser, pytest.mark.needs_dot]

SLOW = """\
name: slow-tests
max_iterations: 3
steps:
  - name: work
    shell: 'sleep 0.8; echo "iteration $COOK_ITERATION" >> notes.txt'
  - name: commit
    shell: 'sleep 0.8; git add notes.txt && git commit -q -m "iteration $COOK_ITERATION"'
"""


def until(check: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as error:  # the page is being redrawn
            last = error
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}: last {last!r}")


def js(driver: Any, script: str) -> Any:
    return driver.execute_script(script)


def active_states(driver: Any) -> list[str]:
    """The states the chart on the page marks active."""
    result: list[str] = js(
        driver,
        "return [...document.querySelectorAll('#chart svg g.active > title')]"
        ".map(t => t.textContent)",
    )
    return result


def text(driver: Any, element_id: str) -> str:
    result: str = js(driver, f"return document.getElementById('{element_id}').textContent")
    return result


def canvas_painted(driver: Any, plot: str) -> bool:
    """Whether the plot's canvas has pixels drawn (not all transparent)."""
    painted: bool = js(
        driver,
        f"""const c = document.querySelector('#{plot} canvas');
        if (!c || !c.width) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
        return false;""",
    )
    return painted


def test_sessions_page_and_the_xss_case(
    browser: Any, store: tuple[Path, dict[str, SessionId]]
) -> None:
    path, ids = store
    server = start_server(path)
    try:
        browser.get(server.token_url)
        until(lambda: "token" not in browser.current_url, what="the token out of the URL")
        until(lambda: text(browser, "live") == "live", what="the live feed")
        rows = js(
            browser, "return [...document.querySelectorAll('#rows tr')].map(r => r.dataset.id)"
        )
        assert rows == sorted(ids.values(), reverse=True)
        workflows = js(
            browser,
            "return [...document.querySelectorAll('#rows td.workflow')].map(t => t.textContent)",
        )
        assert XSS in workflows  # shown as text
        assert js(browser, "return document.querySelectorAll('#rows script').length") == 0
        screenshot(browser, "sessions")

        browser.get(f"{server.url}sessions/{ids['failed']}")
        until(lambda: js(browser, "return document.querySelectorAll('#events tr').length") >= 4)
        page_text = js(browser, "return document.body.innerText")
        assert f"step {XSS} failed" in page_text  # the failure's reason, as text
        assert XSS in text(browser, "workflow")
        assert js(browser, "return document.querySelectorAll('main script').length") == 0
        assert browser.execute_script("return window.__xss === undefined")
        screenshot(browser, "session-failed-xss")

        browser.get(f"{server.url}sessions/{ids['completed']}")
        until(lambda: canvas_painted(browser, "plot-duration"), what="the duration plot")
        assert canvas_painted(browser, "plot-commands") and canvas_painted(browser, "plot-lines")
        assert active_states(browser) == ["completed"]
        output_button = until(
            lambda: browser.find_elements("css selector", "#events button.small"), what="output"
        )
        output_button[-1].click()
        tail = until(
            lambda: js(
                browser,
                "const p = document.querySelector('#events pre'); return p && p.textContent",
            )
        )
        assert XSS in tail
        screenshot(browser, "session-completed")
    finally:
        server.stop()


def test_read_only_has_no_action_buttons(
    browser: Any, store: tuple[Path, dict[str, SessionId]]
) -> None:
    path, ids = store
    server = start_server(path, "--read-only")
    try:
        browser.get(f"{server.url}sessions/{ids['paused']}")
        until(lambda: text(browser, "status") == "paused")
        assert browser.find_elements("css selector", "button[data-action]") == []
        assert "read-only" in js(browser, "return document.querySelector('header').textContent")
        screenshot(browser, "session-read-only")
    finally:
        server.stop()


def test_a_post_without_the_token_is_refused_on_the_page(
    browser: Any, store: tuple[Path, dict[str, SessionId]]
) -> None:
    path, ids = store
    server = start_server(path)
    try:
        browser.get(f"{server.url}sessions/{ids['running']}")  # no ?token=: no cookie
        button = until(lambda: browser.find_element("css selector", "button[data-action=pause]"))
        button.click()
        message = until(
            lambda: "refused" in text(browser, "action-message") and text(browser, "action-message")
        )
        assert "(403)" in message and "needs the token" in message
        screenshot(browser, "action-refused")
    finally:
        server.stop()


def test_a_run_appears_lights_up_pauses_and_resumes_live(browser: Any, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project")
    store = repo / ".sessionchart"
    TinyDBSessionStorage(store)  # an empty store, so that the dashboard has one to show
    workflow = write_workflow(tmp_path / "wf.yaml", SLOW)
    server = start_server(store)
    run: subprocess.Popen[str] | None = None
    try:
        browser.get(server.token_url)
        until(lambda: text(browser, "live") == "live", what="the live feed")
        js(browser, "window.__no_reload = 1")
        run = start_cook("run", workflow, cwd=repo)
        row = until(
            lambda: js(
                browser,
                "const r = document.querySelector('#rows tr[data-id]'); return r && r.dataset.id",
            ),
            what="the new session's row",
        )
        assert js(browser, "return window.__no_reload") == 1  # it came without a reload
        until(lambda: "running" in text(browser, "rows"), what="running in the table")
        screenshot(browser, "sessions-live")

        browser.find_element("css selector", f"#rows tr[data-id='{row}'] a").click()
        until(lambda: text(browser, "status") == "running")
        js(browser, "window.__no_reload = 2")
        until(lambda: "iterating" in active_states(browser), what="an iteration lit up")
        assert "cluster_running" in active_states(browser)  # the compound state, tinted
        shown = len(browser.find_elements("css selector", "#events tr[data-seq]"))
        until(
            lambda: len(browser.find_elements("css selector", "#events tr[data-seq]")) > shown,
            what="the log growing live",
        )
        assert js(browser, "return window.__no_reload") == 2
        screenshot(browser, "session-running")

        browser.find_element("css selector", "button[data-action=pause]").click()
        until(lambda: text(browser, "status") == "paused", what="paused")
        until(lambda: active_states(browser) == ["paused"], what="paused in the chart")
        remembered = js(
            browser, "return document.querySelectorAll('#chart svg g.remembered').length"
        )
        assert remembered >= 1  # what the history state remembers
        assert js(browser, "return document.getElementById('action-message').dataset.state") == "ok"
        assert run.wait(timeout=30) == 130  # cook run: paused, as by Ctrl-C
        screenshot(browser, "session-paused")

        browser.find_element("css selector", "button[data-action=resume]").click()
        until(lambda: text(browser, "status") == "running", what="running again")
        until(lambda: text(browser, "status") == "completed", timeout=60, what="completed")
        until(lambda: text(browser, "live") == "finished")
        until(lambda: active_states(browser) == ["completed"], what="completed in the chart")
        until(lambda: canvas_painted(browser, "plot-duration"), what="the duration plot")
        seqs = js(
            browser,
            "return [...document.querySelectorAll('#events tr[data-seq]')]"
            ".map(r => +r.dataset.seq)",
        )
        assert seqs == sorted(set(seqs), reverse=True)  # newest first, none twice
        assert seqs == list(range(len(seqs), 0, -1))  # none missed
        screenshot(browser, "session")
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            info = client.get(f"{server.url}api/sessions/{row}").json()["info"]
        assert info["state"]["status"] == "completed"
        assert info["progress"]["iterations_completed"] == 3
    finally:
        if run is not None and run.poll() is None:
            run.kill()
        server.stop()
