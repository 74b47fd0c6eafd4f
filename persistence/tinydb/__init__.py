"""The embedded default store: each session a one-document TinyDB database and an event log.

Everything here is private: the store is :class:`persistence.TinyDBSessionStorage`,
and this package exports nothing.  How its modules share the work:

- ``_layout`` — the store's directory: where sessions, owners, quarantine are;
  sessions arriving and leaving whole;
- ``_opening`` — making, migrating (``_migrate``: layout 1 → 2) and tidying a store
  when it is opened;
- ``_documents`` — a session's document (TinyDB) and the lock guarding it;
- ``_lines`` — the log's line format; ``_log_reader`` reads a log (checked),
  ``_log_writer`` appends to one;
- ``_checkpoints`` — checkpoint files; ``_checkpointing`` — saving one;
- ``_owners`` — store instances, their heartbeat, whether a holder is alive;
- ``_holding`` — the sessions an instance writes and the logs it keeps open;
- ``_listing`` — a row of the listing; ``_batch`` — appending to many sessions at once;
- ``_check`` and ``_repair`` — :func:`persistence.verify` and
  :func:`persistence.repair` for this store;
- ``_store`` — :class:`TinyDBSessionStorage`, the port's implementation.
"""

__all__: list[str] = []
