"""A server restart in the middle of a ``cook run``: the run pauses, then resumes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from persistence import PostgresSessionStorage, verify

from ..cook.repos import make_repo
from .helpers import ROOT, store_url, table

pytestmark = pytest.mark.postgres

CLUSTER_ENV = "SESSIONCHART_PG_CLUSTER"
WORKFLOW = """\
name: slow
steps:
  - name: work
    shell: sleep 0.25 && echo "$COOK_ITERATION" >> NOTES.md
  - name: commit
    shell: git add NOTES.md && git commit -q -m "iteration $COOK_ITERATION"
"""


def cluster() -> list[str]:
    """``VERSION NAME`` of the test server's cluster, if this test may restart it."""
    named = os.environ.get(CLUSTER_ENV, "").split()
    if len(named) == 2 and shutil.which("pg_ctlcluster") and os.geteuid() == 0:
        return named
    if os.environ.get("CI"):
        pytest.fail(f"CI must let the tests restart the server: set {CLUSTER_ENV}, run as root")
    pytest.skip(f"cannot restart the server ({CLUSTER_ENV} unset, or not root)")


def wait_ready(dsn: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def test_a_server_restart_mid_run_pauses_the_run_which_then_resumes(
    pg_dsn: str, pg_schema: str, tmp_path: Path
) -> None:
    version, name = cluster()
    repo = make_repo(tmp_path / "project")
    workflow = tmp_path / "slow.yaml"
    workflow.write_text(WORKFLOW, encoding="utf-8")
    store = store_url(pg_dsn, pg_schema)
    run = subprocess.Popen(
        [sys.executable, "-m", "cook", "run", str(workflow), "-n", "8", "--json"],
        cwd=repo,
        env={**os.environ, "SESSIONCHART_STORE": store, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until the run is well under way
            try:
                if table(pg_dsn, pg_schema, "SELECT count(*) FROM events")[0][0] >= 6:
                    break
            except psycopg.errors.UndefinedTable:
                pass
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.05)
        subprocess.run(["pg_ctlcluster", version, name, "restart"], check=True)
        wait_ready(pg_dsn)
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    rows = table(
        pg_dsn,
        pg_schema,
        "SELECT seq, kind, body->'event'->>'reason' FROM events ORDER BY seq",
    )
    assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
    kinds = [kind for _, kind, _ in rows]
    assert kinds[-1] == "completed"
    paused = [i for i, (_, kind, reason) in enumerate(rows) if kind == "paused"]
    assert paused, kinds
    assert all(rows[i][2].startswith("storage unavailable") for i in paused)
    assert all(kinds[i + 1] == "resumed" for i in paused)
    assert kinds.count("iteration_completed") == 8
    checked = PostgresSessionStorage(pg_dsn, schema=pg_schema)
    assert (await verify(checked)).ok
    await checked.close()
