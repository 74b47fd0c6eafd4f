"""The storage contract, unchanged, against a real PostgreSQL server."""

from __future__ import annotations

import pytest

from persistence import PostgresSessionStorage
from tests.persistence.contract import Opener, StorageContract

pytestmark = pytest.mark.postgres


class TestPostgresStore(StorageContract):
    @pytest.fixture
    def opener(self, pg_dsn: str, pg_schema: str) -> Opener:
        return lambda: PostgresSessionStorage(pg_dsn, schema=pg_schema)
