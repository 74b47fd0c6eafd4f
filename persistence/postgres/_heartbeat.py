"""The heartbeat of a store's sessions: proof, every third of the lease, that their owner lives.

A thread with a (synchronous) connection of its own refreshes the heartbeat of
every session a store instance owns, in one statement keyed by the store's
token; so a long step does not cost a runner its sessions, whatever its event
loop is doing.  A failed beat is logged and retried at the next one, on a new
connection; the lease is long enough for a few to fail.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg

from .._durability import Periodic
from ._connections import Location

__all__ = ["Heartbeat"]

log = logging.getLogger("persistence.postgres")


class Heartbeat:
    """Beats for the sessions owned by ``token`` every ``lease / 3`` seconds, until stopped."""

    def __init__(self, location: Location, token: str, lease: float) -> None:
        self.location = location
        self.token = token
        self._connection: psycopg.Connection[Any] | None = None
        self._guard = threading.Lock()
        self._periodic = Periodic(lease / 3, self.beat, "postgres-heartbeat")

    def beat(self) -> None:
        """Refresh the heartbeat of every session the token owns now."""
        with self._guard:
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = psycopg.connect(self.location.conninfo, autocommit=True)
                self._connection.execute(
                    "UPDATE sessions SET heartbeat = now() WHERE owner_token = %s", (self.token,)
                )
            except psycopg.Error as error:
                log.warning("heartbeat failed (%s): %s", self.location, error)
                self._close()

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def stop(self) -> None:
        """Stop beating (waits for a beat in progress) and close the connection."""
        self._periodic.stop()
        with self._guard:
            self._close()
