"""``cook db migrate``: bring a store to this sessionchart's format, ahead of time.

A TinyDB store written by an older sessionchart (layout 1: one
``sessions.json`` for every session) is migrated the first time a command
opens it for writing; until then, commands that only read it say so.  A
PostgreSQL store migrates its schema itself when it first connects.  This
command does either ahead of time (say, by an operator whose role may create
tables, before the runners start with a role that may not).
"""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

import persistence
import persistence.postgres
from statecharts import as_durable

from .errors import printable
from .store import OLD_DATABASE, is_database_url, open_storage, project_dir, store_location

__all__ = ["migrate"]


async def _migrate_directory(location: str, as_json: bool) -> int:
    """A TinyDB store: opened for writing once (which migrates it), then closed."""
    migrated = (Path(location) / OLD_DATABASE).is_file()
    storage = open_storage(location, create=False)  # StoreNotFound where there is none
    sessions = len(await as_durable(storage).list())
    await as_durable(storage).close()
    text = "migrated from" if migrated else "already at"
    if as_json:
        print(json.dumps({"store": location, "layout": 2, "sessions": sessions}))
    else:
        print(f"store {printable(location)}: {text} layout 2 ({sessions} sessions)")
    return 0


async def migrate(args: Namespace) -> int:
    """``cook db migrate [--store URL]``: bring the store's schema to this package's version."""
    location = store_location(project_dir(args.path), args.store)
    if not is_database_url(location):
        return await _migrate_directory(location, args.json)
    store = persistence.PostgresSessionStorage(location, migrate=False)
    try:
        applied = await store.migrate()
    finally:
        await store.close()
    version = persistence.postgres.LATEST_VERSION
    if args.json:
        print(json.dumps({"schema": store.schema, "version": version, "applied": applied}))
    elif applied:
        print(
            f"schema {store.schema}: migrated to version {version} "
            f"(applied {', '.join(map(str, applied))})"
        )
    else:
        print(f"schema {store.schema}: already at version {version}")
    return 0
