"""Safe by default: the token that actions need, cross-site requests refused, Host checked.

- **The token**: printed when ``cook ui`` starts (a URL with ``?token=``, as
  Jupyter does), or set by ``SESSIONCHART_UI_TOKEN``.  Opening that URL puts
  the token in a cookie (``HttpOnly``, ``SameSite=Strict``) and takes it out
  of the address bar; a script sends it as ``Authorization: Bearer TOKEN``
  or ``X-Cook-Token``.  A POST without it is refused (403).  Reading needs no
  token: the server listens on 127.0.0.1 unless told otherwise.
- **Cross-site requests** that change something are refused (403): a browser
  says where a request comes from (``Sec-Fetch-Site``, ``Origin``); only the
  page's own origin may POST.
- **The Host header** must name this server (unless it listens on every
  address): a DNS-rebinding page cannot read the API through its own name.
- Every answer carries a Content-Security-Policy allowing the server's own
  scripts only (no inline script, nothing from elsewhere), and a
  ``Server-Timing`` header: the time the server took (``app;dur=MS``).
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "COOKIE",
    "TOKEN_ENV",
    "Guard",
    "SecurityHeaders",
    "is_loopback",
    "new_token",
]

TOKEN_ENV: Final = "SESSIONCHART_UI_TOKEN"  # noqa: S105 - the variable's name
COOKIE: Final = "cook_ui_token"
UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def new_token() -> str:
    """A fresh token (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(value: str) -> str:
    """The host of a ``Host`` header (without the port)."""
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass(frozen=True)
class Guard:
    """Decides whether a request may act: the token, read-only mode, where it comes from."""

    token: str
    read_only: bool
    allowed_hosts: frozenset[str] | None
    """The host names the Host header may carry (None: any — the server listens everywhere)."""

    @classmethod
    def for_server(cls, token: str, *, read_only: bool, host: str) -> Guard:
        """The guard of a server listening on ``host``."""
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - told to listen everywhere
            return cls(token, read_only, None)
        names: Iterable[str] = {host, f"[{host}]"}
        if is_loopback(host):
            names = {*names, "localhost", "127.0.0.1", "[::1]"}
        return cls(token, read_only, frozenset(names))

    def host_ok(self, headers: Headers) -> bool:
        """Whether the Host header names this server."""
        if self.allowed_hosts is None:
            return True
        return _host_name(headers.get("host", "")) in self.allowed_hosts

    def refusal(self, method: str, headers: Headers, cookies: dict[str, str]) -> str | None:
        """Why a request that changes something is refused (None: it may go on)."""
        if method not in UNSAFE:
            return None
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return "cross-site requests are refused"
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != headers.get("host"):
            return "cross-site requests are refused (the Origin is not this server)"
        if self.read_only:
            return "this dashboard is read-only (cook ui --read-only): it takes no action"
        if not self.token_ok(headers, cookies):
            return (
                "an action needs the token cook ui printed when it started (open the URL it "
                f"printed, or send it as `Authorization: Bearer TOKEN`; {TOKEN_ENV} sets it)"
            )
        return None

    def token_ok(self, headers: Headers, cookies: dict[str, str]) -> bool:
        """Whether the request carries the token (header or cookie)."""
        given = headers.get("x-cook-token") or cookies.get(COOKIE) or ""
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            given = authorization[7:].strip()
        return secrets.compare_digest(given.encode(), self.token.encode())


class SecurityHeaders:
    """ASGI middleware: the Host check, then the security headers on every answer."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.guard.host_ok(Headers(scope=scope)):
            response = JSONResponse(
                {
                    "error": "unexpected Host header: this server answers to its own name",
                    "status": 400,
                },
                status_code=400,
            )
            await response(scope, receive, send)
            return

        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers += [
                    (b"server-timing", f"app;dur={took:.2f}".encode()),
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
