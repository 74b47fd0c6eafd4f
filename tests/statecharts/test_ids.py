"""Session ids: unique, safe in paths, sortable by creation time."""

from __future__ import annotations

import threading

from statecharts import is_session_id, new_session_id


def test_ids_are_unique_and_sorted_by_creation() -> None:
    ids = [new_session_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(is_session_id(i) for i in ids)


def test_ids_from_many_threads_are_unique() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(bucket: list[str]) -> None:
        bucket.extend(new_session_id() for _ in range(2000))

    threads = [threading.Thread(target=make, args=(bucket,)) for bucket in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for bucket in made for i in bucket]
    assert len(set(every)) == len(every)
    assert all(bucket == sorted(bucket) for bucket in made)


def test_what_is_not_an_id() -> None:
    for bad in ("", "../etc/passwd", "a/b", "x\x00y", "0" * 25, "0" * 27, "I" * 26, 42, None):
        assert not is_session_id(bad)
