"""``cook diagram``, ``cook verify``, ``cook repair``: the chart's picture, the store's health."""

from __future__ import annotations

import dataclasses
import json
import sys
from argparse import Namespace
from collections.abc import Awaitable, Callable
from pathlib import Path

import persistence
from statecharts import SessionChart, SessionStorage
from statecharts.diagrams import render, to_dot, to_mermaid, transition_table
from statecharts.storage import as_durable

from .store import open_storage, project_dir, store_location

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
    if args.output:
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


async def verify(args: Namespace) -> int:
    """``cook verify``: check every log, checkpoint and document; 1 when anything is wrong."""
    return await _check_store(args, persistence.verify)


async def repair(args: Namespace) -> int:
    """``cook repair``: fix what is safe to fix (keeping copies), report what is not."""
    return await _check_store(args, persistence.repair)


_Report = persistence.VerifyReport | persistence.RepairReport


async def _check_store(
    args: Namespace, check: Callable[[SessionStorage], Awaitable[_Report]]
) -> int:
    """Run ``check`` on the store ``args`` name; print its report; 1 unless all is well."""
    storage = open_storage(store_location(project_dir(args.path), args.store))
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
