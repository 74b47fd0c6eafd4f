"""Where the store is, and how it is shown: a password in a URL is never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cook.store import is_database_url, shown_location, store_location


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("/work/p/.sessionchart", "/work/p/.sessionchart"),
        ("postgresql://runner@db:5432/s", "postgresql://runner@db:5432/s"),
        (
            "postgresql://runner:s3cret@db:5432/s?schema=a",
            "postgresql://runner:***@db:5432/s?schema=a",
        ),
        ("postgres://:pw@db/s", "postgres://:***@db/s"),
        ("postgresql://u:pw@[not-a-host/s", "postgresql://u:***@[not-a-host/s"),
        # a password with / @ ? unescaped: all of it up to the last @ is hidden
        ("postgresql://alice:S3c/ret@PW@db/s", "postgresql://alice:***@db/s"),
        ("postgresql://alice:S3c?ret@db/s", "postgresql://alice:***@db/s"),
        ("postgresql://db/s?password=S3cret&schema=a", "postgresql://db/s?password=***&schema=a"),
    ],
)
def test_a_password_is_never_shown(location: str, shown: str) -> None:
    assert shown_location(location) == shown


def test_the_store_is_chosen_by_option_then_environment_then_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SESSIONCHART_STORE", raising=False)
    assert store_location(tmp_path, None) == str(tmp_path / ".sessionchart")
    monkeypatch.setenv("SESSIONCHART_STORE", "postgresql://db/s")
    assert store_location(tmp_path, None) == "postgresql://db/s"
    assert store_location(tmp_path, "/elsewhere") == "/elsewhere"
    monkeypatch.chdir(tmp_path)
    assert store_location(tmp_path, "rel/store") == str(tmp_path / "rel" / "store")
    assert is_database_url("postgres://db/s") and not is_database_url("/postgresql://no")
