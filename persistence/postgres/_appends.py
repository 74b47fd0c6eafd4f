"""Group appends: the appends of many sessions waiting at once go in one statement.

When a hundred sessions record events at the same moment, each would pay a
round trip and a commit (an fsync) of its own.  Instead an append joins a
queue; up to ``writers`` of the waiting callers each take a batch — at most
``batch`` appends, one per session — and write it as a single statement (see
:data:`~persistence.postgres._queries.APPEND`): one round trip, one commit, one
notification for the whole batch.  Each session is still checked on its own
(its version, its seq, its owner); a refused one does not hold up the others.
A batch that fails for another reason than an unreachable server is retried
one append at a time, so that the failure lands on the append that caused it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, LiteralString

from .._errors import StorageError
from ._errors import StorageUnavailable
from ._queries import APPEND, APPEND_QUIET

__all__ = ["Append", "GroupAppender"]

Run = Callable[[LiteralString, tuple[Any, ...], "str | None"], Awaitable[list[tuple[Any, ...]]]]


@dataclass(slots=True)
class Append:
    """One session's append: its new row (JSON) and its events (JSON), and the answer.

    The answer is the session's new version, or None when its row was not
    where the writer expected (the caller finds out why).
    """

    session_id: str
    row: str
    events: list[str]
    answer: asyncio.Future[int | None] = field(init=False)

    def __post_init__(self) -> None:
        self.answer = asyncio.get_running_loop().create_future()


class GroupAppender:
    """Writes queued appends in batches; see the module's documentation."""

    def __init__(
        self,
        run: Run,
        token: str,
        channel: str | None,
        *,
        writers: int = 4,
        batch: int = 100,
    ) -> None:
        self._run = run
        self.token = token
        self.channel = channel
        self.writers = writers
        self.batch = batch
        self._pending: list[Append] = []
        self._drainer: asyncio.Task[None] | None = None
        self._writing = 0

    async def append(self, item: Append) -> int | None:
        """Queue ``item``, help write the queue if a writer is free, and wait for the answer."""
        self._pending.append(item)
        if self._writing < self.writers:
            await self._drain()
        return await item.answer

    async def _drain(self) -> None:
        """Write batches until the queue is empty (as one of the ``writers``)."""
        self._writing += 1
        try:
            while self._pending:
                await self._write(self._next_batch())
        finally:
            self._writing -= 1
            self._hand_over()

    def _hand_over(self) -> None:
        """A writer cancelled mid-queue leaves the rest to a task of its own, not to nobody."""
        if self._pending and self._writing == 0:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    def _next_batch(self) -> list[Append]:
        """Up to ``batch`` queued appends, one per session, oldest first."""
        taken: list[Append] = []
        left: list[Append] = []
        sessions: set[str] = set()
        for item in self._pending:
            if len(taken) < self.batch and item.session_id not in sessions:
                taken.append(item)
                sessions.add(item.session_id)
            else:
                left.append(item)
        self._pending = left
        return taken

    async def _write(self, batch: list[Append]) -> None:
        rows = "[" + ",".join(item.row for item in batch) + "]"
        events = "[" + ",".join(event for item in batch for event in item.events) + "]"
        params: tuple[str, ...]
        if self.channel is None:
            query, params = APPEND_QUIET, (rows, self.token, events)
        else:
            query, params = APPEND, (rows, self.token, events, self.channel, self.token)
        single = batch[0].session_id if len(batch) == 1 else None
        try:
            written = await self._run(query, params, single)
        except StorageError as error:
            if len(batch) > 1 and not isinstance(error, StorageUnavailable):
                for item in batch:  # find the append at fault
                    await self._write([item])
                return
            for item in batch:
                _answer(item, error=error)
            return
        except BaseException:
            for item in batch:  # cancelled mid-write: what was stored is unknown
                _answer(item, error=StorageError("the append was interrupted"))
            raise
        versions = {row[0]: row[1] for row in written}
        for item in batch:
            _answer(item, versions.get(item.session_id))


def _answer(item: Append, version: int | None = None, error: BaseException | None = None) -> None:
    if item.answer.done():
        return
    if error is not None:
        item.answer.set_exception(error)
    else:
        item.answer.set_result(version)
