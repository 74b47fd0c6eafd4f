"""``cook ui``: a live web dashboard over any store (the ``ui`` extra).

- :mod:`~cook.ui.service` reads sessions through the manager and the store's
  public API (a page of the listing, one session, its log, where it went in
  the chart) and performs the actions of :mod:`~cook.ui.actions`;
- :mod:`~cook.ui.feed` is the store's change feed: the blinker signals of this
  process, the LISTEN/NOTIFY bridge on PostgreSQL, the logs' growth on TinyDB;
- :mod:`~cook.ui.app` is the FastAPI application: the pages, the JSON API
  under ``/api/`` that the pages use, Server-Sent Events;
- :mod:`~cook.ui.security`: the token, cross-site and Host checks;
- :mod:`~cook.ui.command` is the ``cook ui`` command (uvicorn).

Nothing here is imported by ``cook --help``: the command line names
``ui.command:ui`` and imports it when the command runs.
"""
