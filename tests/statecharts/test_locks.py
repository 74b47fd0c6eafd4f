"""The readers–writer lock: shared readers, exclusive writers, FIFO, any loop in any thread."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from statecharts._locks import ReadWriteLock


async def test_readers_share_writers_exclude() -> None:
    lock = ReadWriteLock()
    await lock.acquire(write=False)
    await lock.acquire(write=False)
    assert lock.locked
    writer = asyncio.create_task(lock.acquire(write=True))
    await asyncio.sleep(0.01)
    assert not writer.done()
    # a waiting writer stops new readers from overtaking it
    late_reader = asyncio.create_task(lock.acquire(write=False))
    await asyncio.sleep(0.01)
    assert not late_reader.done()
    lock.release(write=False)
    lock.release(write=False)
    await asyncio.wait_for(writer, 1)
    assert not late_reader.done()
    lock.release(write=True)
    await asyncio.wait_for(late_reader, 1)
    lock.release(write=False)
    assert not lock.locked


async def test_waiting_readers_are_admitted_together() -> None:
    lock = ReadWriteLock()
    await lock.acquire(write=True)
    readers = [asyncio.create_task(lock.acquire(write=False)) for _ in range(3)]
    await asyncio.sleep(0.01)
    lock.release(write=True)
    await asyncio.wait_for(asyncio.gather(*readers), 1)
    for _ in readers:
        lock.release(write=False)


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    lock = ReadWriteLock()
    await lock.acquire(write=True)
    cancelled = asyncio.create_task(lock.acquire(write=True))
    after = asyncio.create_task(lock.acquire(write=False))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    lock.release(write=True)
    await asyncio.wait_for(after, 1)
    lock.release(write=False)
    assert not lock.locked


async def test_a_waiter_cancelled_after_being_granted_releases() -> None:
    lock = ReadWriteLock()
    await lock.acquire(write=True)
    waiter = asyncio.create_task(lock.acquire(write=True))
    await asyncio.sleep(0.01)
    lock.release(write=True)  # granted: the wake-up is scheduled but has not run yet
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not lock.locked
    await asyncio.wait_for(lock.acquire(write=True), 1)
    lock.release(write=True)


def test_release_without_holding_is_an_error() -> None:
    lock = ReadWriteLock()
    with pytest.raises(RuntimeError, match="write lock that is not held"):
        lock.release(write=True)
    with pytest.raises(RuntimeError, match="read lock that is not held"):
        lock.release(write=False)


def test_writers_in_many_threads_and_loops_are_exclusive() -> None:
    lock = ReadWriteLock()
    inside = 0
    most = 0
    guard = threading.Lock()

    async def worker() -> None:
        nonlocal inside, most
        for _ in range(200):
            async with lock.writing():
                with guard:
                    inside += 1
                    most = max(most, inside)
                await asyncio.sleep(0)
                time.sleep(0)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=asyncio.run, args=(worker(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert not lock.locked


def test_readers_in_many_threads_overlap() -> None:
    lock = ReadWriteLock()
    inside = 0
    most = 0
    guard = threading.Lock()
    barrier = threading.Barrier(3)

    async def reader() -> None:
        nonlocal inside, most
        async with lock.reading():
            with guard:
                inside += 1
                most = max(most, inside)
            await asyncio.to_thread(barrier.wait, 5)  # all three are inside together
            with guard:
                inside -= 1

    threads = [threading.Thread(target=asyncio.run, args=(reader(),)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 3


def test_a_waiter_whose_loop_closed_is_skipped() -> None:
    lock = ReadWriteLock()
    holder = asyncio.new_event_loop()
    holder.run_until_complete(lock.acquire(write=True))
    stranded = asyncio.new_event_loop()
    waiting = stranded.create_task(lock.acquire(write=True))
    stranded.run_until_complete(asyncio.sleep(0.01))  # the task is now parked on the lock
    stranded.close()
    lock.release(write=True)  # its loop is closed: the turn is not given to a dead waiter
    assert not lock.locked
    holder.run_until_complete(lock.acquire(write=False))
    lock.release(write=False)
    holder.close()
    del waiting
