"""``cook`` on a PostgreSQL store: URLs with a query string (#13.12), the store named in the
summary (#13.2), and a password never shown (#10.8), through the installed ``cook``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from ..cook.cli import cook, write_workflow
from ..cook.repos import make_repo
from .helpers import store_url

pytestmark = pytest.mark.postgres


def test_a_store_url_keeps_the_query_it_had() -> None:
    socket_dsn = "postgresql:///db?host=/run/postgresql"
    assert store_url(socket_dsn, "s1") == "postgresql:///db?host=/run/postgresql&schema=s1"
    assert store_url("postgresql://u:p@h/db", "s2") == "postgresql://u:p@h/db?schema=s2"
    assert store_url("postgresql://h/db?schema=old&x=1", "s3") == "postgresql://h/db?x=1&schema=s3"


def test_cook_on_a_dsn_that_has_a_query_string(pg_dsn: str, pg_schema: str, tmp_path: Path) -> None:
    dsn = store_url(pg_dsn, pg_schema).replace("?", "?application_name=cook-test&", 1)
    migrated = cook("db", "migrate", "--store", dsn, "--json", cwd=tmp_path)
    assert migrated.code == 0, migrated.err
    assert migrated.json()["schema"] == pg_schema
    listed = cook("sessions", "--json", "--store", dsn, cwd=tmp_path)
    assert listed.code == 0 and listed.json() == []


def test_the_summary_names_the_postgres_store_without_its_password(
    pg_store_url: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "project")
    workflow = write_workflow(tmp_path / "wf.yaml", "steps:\n  - shell: echo x >> x.txt\n")
    done = cook("run", workflow, "-n", "1", cwd=repo, SESSIONCHART_STORE=pg_store_url)
    assert done.code == 0, done.err
    parts = urlsplit(pg_store_url)
    assert parts.password
    shown = urlunsplit(
        parts._replace(netloc=f"{parts.username}:***@{parts.netloc.rsplit('@', 1)[1]}")
    )
    assert done.out.splitlines()[-1] == f"  store: {shown}"
    assert f":{parts.password}@" not in done.out + done.err
    assert not (repo / ".sessionchart").exists()  # the store is the one actually used


def test_a_wrong_password_is_not_shown(pg_store_url: str, tmp_path: Path) -> None:
    parts = urlsplit(pg_store_url)
    secret = "Wr0ng:Pa55@Xyz/Qrs%"
    from urllib.parse import quote  # noqa: PLC0415

    wrong = urlunsplit(
        parts._replace(
            netloc=f"{parts.username}:{quote(secret, safe='')}@{parts.netloc.rsplit('@', 1)[1]}"
        )
    )
    for args in (["sessions"], ["--debug", "sessions"]):
        done = cook(*args, "--store", wrong, cwd=tmp_path)
        assert done.code == 6
        assert "password authentication failed" in done.err
        for piece in ("Wr0ng", "Pa55", "Xyz", "Qrs", quote(secret, safe="")):
            assert piece not in done.err and piece not in done.out
