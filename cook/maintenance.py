"""``cook diagram``, ``cook verify``, ``cook repair``: the chart's picture, the store's health.

``verify`` only reads (:func:`~cook.store.open_for_reading`); ``repair`` writes,
but only to a store that is there: neither creates one.  ``diagram -o FILE``
writes the whole picture or nothing (a temporary file beside it, renamed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import sys
from argparse import Namespace
from collections.abc import Awaitable, Callable
from pathlib import Path

import persistence
from statecharts import SessionChart, SessionStorage, as_durable
from statecharts.diagrams import render, to_dot, to_mermaid, transition_table

from .errors import InvalidInput, printable
from .store import open_for_reading, open_storage, project_dir, store_location

__all__ = ["diagram", "repair", "verify"]


async def diagram(args: Namespace) -> int:
    """``cook diagram``: the session chart as DOT, SVG, PNG, Mermaid or a transition table."""
    data: bytes
    match args.format:
        case "dot":
            data = to_dot(SessionChart).encode()
        case "mermaid":
            data = to_mermaid(SessionChart).encode()
        case "table":
            data = transition_table(SessionChart).encode()
        case _:
            data = render(SessionChart, args.format)
    if args.output and args.output != "-":
        _write(Path(args.output), data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole (or not at all), saying why when it cannot be done."""
    shown = printable(str(path))
    try:
        directory = path.is_dir()
    except OSError as error:  # a name too long, say
        raise InvalidInput(f"cannot write {shown}: {error.strerror}") from None
    if directory:
        raise InvalidInput(f"cannot write {shown}: it is a directory: give a file name")
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as error:
        raise InvalidInput(
            f"cannot write {shown}: {error.strerror} (is {printable(str(path.parent))} "
            "a directory you may write in?)"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(scratch, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        raise InvalidInput(f"cannot write {shown}: {error.strerror}") from None


async def verify(args: Namespace) -> int:
    """``cook verify``: check every log, checkpoint and document; 1 when anything is wrong."""
    return await _check_store(args, persistence.verify, open_for_reading)


async def repair(args: Namespace) -> int:
    """``cook repair``: fix what is safe to fix (keeping copies); set aside what is not.

    What cannot be fixed is moved to the store's ``quarantine/`` with every file
    (``--remove`` deletes it instead, ``--keep-damaged`` leaves it in place).
    """

    async def check(storage: SessionStorage) -> persistence.RepairReport:
        return await persistence.repair(
            storage, quarantine=not args.keep_damaged, remove=args.remove
        )

    return await _check_store(args, check, lambda location: open_storage(location, create=False))


_Report = persistence.VerifyReport | persistence.RepairReport


async def _check_store(
    args: Namespace,
    check: Callable[[SessionStorage], Awaitable[_Report]],
    opener: Callable[[str], SessionStorage],
) -> int:
    """Run ``check`` on the store ``args`` name; print its report; 1 unless all is well."""
    storage = opener(store_location(project_dir(args.path), args.store))
    try:
        report = await check(storage)
    finally:
        await as_durable(storage).close()
    _print(report, args.json)
    return 0 if report.ok else 1


def _print(report: _Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps({**dataclasses.asdict(report), "ok": report.ok}, default=str))
    else:
        print(report)
