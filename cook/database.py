"""``cook db migrate``: create or migrate the schema of a PostgreSQL store.

A PostgreSQL store migrates its schema itself when it first connects; this
command does it ahead of time (say, by an operator whose role may create
tables, before the runners start with a role that may not).
"""

from __future__ import annotations

import json
from argparse import Namespace

import persistence
import persistence.postgres

from .errors import InvalidInput
from .store import is_database_url, project_dir, store_location

__all__ = ["migrate"]


async def migrate(args: Namespace) -> int:
    """``cook db migrate [--store URL]``: bring the store's schema to this package's version."""
    location = store_location(project_dir(args.path), args.store)
    if not is_database_url(location):
        raise InvalidInput(
            "cook db migrate is for a PostgreSQL store: give --store postgresql://... "
            "(or set SESSIONCHART_STORE); the TinyDB store needs no migration"
        )
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
