"""``cook ui``: serve the dashboard of a store until Ctrl-C.

It binds 127.0.0.1 unless told otherwise (anything else is warned about: the
pages can then be read from elsewhere), prints the URL with the token actions
need (``SESSIONCHART_UI_TOKEN`` sets it) and the store without its password,
then serves with uvicorn in the command's own event loop.  Ctrl-C, SIGTERM
and SIGHUP stop it cleanly (exit 0).
"""

from __future__ import annotations

import os
import socket
import sys
from argparse import Namespace
from contextlib import nullcontext
from typing import Any

from ..errors import InvalidInput, printable

try:
    import fastapi  # noqa: F401 - checked here, used by .app
    import jinja2  # noqa: F401
    import uvicorn
except ModuleNotFoundError as missing:  # pragma: no cover - the extra is there in the tests
    raise InvalidInput(
        f"cook ui needs the `ui` extra ({missing.name} is missing): pip install 'sessionchart[ui]'"
    ) from None

from ..interrupts import current
from ..output import warn
from ..store import project_dir, shown_location, store_location
from .actions import ACTIONS
from .app import create_app
from .security import TOKEN_ENV, Guard, is_loopback, new_token
from .service import Dashboard

__all__ = ["Server", "bind", "ui", "url_host"]


class Server(uvicorn.Server):
    """uvicorn's server, leaving the signals to ``cook`` (:mod:`cook.interrupts`)."""

    def __init__(self, config: uvicorn.Config, dashboard: Dashboard) -> None:
        super().__init__(config)
        self.dashboard = dashboard

    def capture_signals(self) -> Any:
        """No handlers of its own: :meth:`interrupt` stops it."""
        return nullcontext()

    def interrupt(self, reason: str) -> None:
        """Stop serving (a signal came): the live streams end, then the server."""
        self.dashboard.feed.close()
        self.should_exit = True


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or :class:`~cook.errors.InvalidInput` saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise InvalidInput(f"cannot listen on {printable(host)}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise InvalidInput(
            f"cannot listen on {printable(host)} port {port}: {error.strerror} "
            "(give another --port)"
        ) from None
    sock.set_inheritable(False)
    return sock


def url_host(host: str) -> str:
    """``host`` as it is written in a URL."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - every address: show one that works here
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


async def ui(args: Namespace) -> int:
    """``cook ui``: the live web dashboard of the store."""
    location = store_location(project_dir(args.path), args.store)
    token = os.environ.get(TOKEN_ENV) or new_token()
    if len(token) < 16 and not args.read_only:
        warn(f"{TOKEN_ENV} is short ({len(token)} characters): anyone who guesses it can act")
    dashboard = await Dashboard.open(location, read_only=args.read_only, actions=ACTIONS)
    try:
        sock = bind(args.host, args.port)
    except BaseException:
        await dashboard.manager.aclose()
        raise
    port = sock.getsockname()[1]
    if not is_loopback(args.host):
        warn(
            f"cook ui listens on {printable(args.host)}, not only on this machine: anyone who "
            "reaches it can read every session (actions still need the token)"
        )
    guard = Guard.for_server(token, read_only=args.read_only, host=args.host)
    app = create_app(dashboard, guard)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    server = Server(config, dashboard)
    base = f"http://{url_host(args.host)}:{port}/"
    mode = " (read-only)" if args.read_only else ""
    print(f"cook ui: {shown_location(location)}{mode}", flush=True)
    print(
        f"cook ui: open {base}" if args.read_only else f"cook ui: open {base}?token={token}",
        flush=True,
    )
    print("cook ui: Ctrl-C stops it", flush=True)
    interrupts = current()
    interrupts.attach(server)
    try:
        await server.serve(sockets=[sock])
    finally:
        interrupts.detach()
        sock.close()
    if not server.started:
        print("cook ui: the server did not start", file=sys.stderr)
        return 1
    return 0
