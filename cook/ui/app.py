"""The web application: two pages, the JSON API they use, and Server-Sent Events.

Pages (server-rendered, every text escaped by Jinja2; a small script of our
own keeps them live, writing session data with ``textContent`` only):

- ``/``: the sessions, newest first, filtered and paged;
- ``/sessions/{id}``: one session: the chart with where it is and where it
  went, its progress and plots, its log, its actions.

The API (``/api/openapi.json`` describes it):

- ``GET /api/store``, ``GET /api/sessions`` (``status``, ``workflow``,
  ``since``, ``page``, ``per_page``), ``GET /api/sessions/{id}``,
  ``GET /api/sessions/{id}/events`` (``after``, ``limit``),
  ``GET /api/sessions/{id}/events/{seq}`` (with a command's output tail),
  ``GET /api/sessions/{id}/chart.svg``;
- ``GET /api/stream``: every change (``event: change``), for the sessions page;
- ``GET /api/sessions/{id}/stream``: the session's events as they are
  recorded, each with ``id: SEQ``: a reconnecting client sends
  ``Last-Event-ID`` (or ``?after=SEQ``) and gets every event after it, read
  from the store, so that none is missed or sent twice;
- ``POST /api/sessions/{id}/{action}``: an action (token required).

Every error is a one-line message with a 4xx status (JSON under ``/api/``, a
page elsewhere); never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import StreamingResponse

from statecharts import SessionError, SessionId, SessionNotFound, TimestampedEvent

from .. import __version__
from ..durations import parse_moment
from ..errors import exit_code_for, one_line, printable
from ..outcome import step_timeouts
from .actions import ACTIONS, ActionFailed, http_status, perform
from .models import ActionDone, EventsPage, Problem, SessionDetail, SessionPage, StoreInfo
from .security import COOKIE, Guard, SecurityHeaders
from .service import TERMINAL, BadRequest, Dashboard, Filters, NotFound, check_id, entry

__all__ = ["KEEPALIVE_SECONDS", "create_app"]

log = logging.getLogger("cook.ui")

HERE: Final = pathlib.Path(__file__).parent
KEEPALIVE_SECONDS: Final = 15.0
"""A comment line on an idle stream this often (proxies drop silent connections)."""
MAX_PAGE: Final = 1_000_000_000

PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1 for the newest sessions")]
PerPage = Annotated[int, Query(ge=1, le=200, description="sessions per page")]
Statuses = Annotated[list[str] | None, Query(alias="status", description="repeatable")]


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse(Problem(error=message, status=status).model_dump(), status_code=status)


def _sse(event: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def create_app(dashboard: Dashboard, guard: Guard) -> FastAPI:  # noqa: PLR0915 - the routes
    """The application over ``dashboard``, guarded by ``guard``."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await dashboard.start()
        try:
            yield
        finally:
            await dashboard.aclose()

    app = FastAPI(
        title="cook ui",
        version=__version__,
        description="The sessions of a sessionchart store: the data the dashboard shows.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI loads its scripts from a CDN: no network at run time
        redoc_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(SecurityHeaders, guard=guard)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["version"] = __version__

    # -- errors: one line, a 4xx, never a traceback --------------------------------------
    def failure(request: Request, status: int, message: str) -> Response:
        message = dashboard.scrub(message)
        if request.url.path.startswith("/api/"):
            return _problem(status, message)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "message": message, "store": dashboard.store_info()},
            status_code=status,
        )

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, error: BadRequest) -> Response:
        return failure(request, 400, str(error))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> Response:
        return failure(request, 404, str(error.args[0]))

    @app.exception_handler(ActionFailed)
    async def action_failed(request: Request, error: ActionFailed) -> Response:
        return failure(request, error.status, error.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        given = first.get("input")
        shown = f" (got {printable(str(given))[:40]!r})" if isinstance(given, str | int) else ""
        return failure(request, 400, f"{where or 'request'}: {first.get('msg', 'invalid')}{shown}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = "no such page" if error.status_code == 404 else str(error.detail)
        return failure(request, error.status_code, message)

    @app.exception_handler(SessionError)
    async def session_error(request: Request, error: SessionError) -> Response:
        status = 404 if isinstance(error, SessionNotFound) else http_status(exit_code_for(error))
        return failure(request, status, one_line(error))

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> Response:
        code = exit_code_for(error)
        if code is not None:
            return failure(request, http_status(code), one_line(error))
        log.error(
            "cook ui: internal error on %s: %s",
            request.url.path,
            dashboard.scrub(one_line(error)),
        )
        log.debug("traceback", exc_info=error)
        return failure(request, 500, "internal error (a bug: the server's log says more)")

    # -- the token, given once in the URL --------------------------------------------------
    def token_redirect(request: Request) -> Response | None:
        given = request.query_params.get("token")
        if given is None:
            return None
        if not secrets.compare_digest(given.encode(), guard.token.encode()):
            return failure(request, 403, "wrong token: use the URL cook ui printed")
        query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
        target = request.url.path + (f"?{query}" if query else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, guard.token, httponly=True, samesite="strict", path="/")
        return response

    def filters(
        status: list[str] | None, workflow: str | None, since: str | None, page: int, per_page: int
    ) -> Filters:
        moment = None
        if since:
            try:
                moment = parse_moment(since)
            except ValueError as error:
                raise BadRequest(f"since: {error}") from None
        return Filters(
            statuses=frozenset(status or ()),
            workflow=workflow or None,
            since=moment,
            page=page,
            per_page=per_page,
        )

    # -- pages ---------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def sessions_page(  # noqa: PLR0917 - FastAPI reads the query by parameter
        request: Request,
        status: Statuses = None,
        workflow: str | None = None,
        since: str | None = None,
        page: PageNumber = 1,
        per_page: PerPage = 50,
    ) -> Response:
        redirect = token_redirect(request)
        if redirect is not None:
            return redirect
        shown = await dashboard.page(filters(status, workflow, since, page, per_page))
        return templates.TemplateResponse(
            request,
            "sessions.html",
            {
                "store": dashboard.store_info(),
                "page": shown,
                "chosen": set(status or ()),
                "workflow": workflow or "",
                "since": since or "",
                "query": request.url.query,
            },
        )

    @app.get("/sessions/{session_id}", response_class=HTMLResponse, include_in_schema=False)
    async def session_page(request: Request, session_id: str) -> Response:
        redirect = token_redirect(request)
        if redirect is not None:
            return redirect
        detail = await dashboard.detail(check_id(session_id))
        svg = await dashboard.chart_svg(detail.info.id)
        return templates.TemplateResponse(
            request,
            "session.html",
            {
                "store": dashboard.store_info(),
                "detail": detail,
                "svg": svg,
                "actions": [ACTIONS[name] for name in dashboard.actions],
            },
        )

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    # -- the API ------------------------------------------------------------------------
    @app.get("/api/store", response_model=StoreInfo, tags=["store"])
    async def store() -> StoreInfo:
        """The store shown (its location without a password), the statuses and actions."""
        return dashboard.store_info()

    @app.get("/api/sessions", response_model=SessionPage, tags=["sessions"])
    async def sessions(
        status: Statuses = None,
        workflow: str | None = None,
        since: Annotated[str | None, Query(description="30m, 12h, 7d, 2w or a date")] = None,
        page: PageNumber = 1,
        per_page: PerPage = 50,
    ) -> SessionPage:
        """The sessions, newest first, filtered as ``cook sessions`` filters, a page at a time."""
        return await dashboard.page(filters(status, workflow, since, page, per_page))

    @app.get("/api/sessions/{session_id}", response_model=SessionDetail, tags=["sessions"])
    async def session(session_id: str) -> SessionDetail:
        """One session: its info (state, config, progress, holder), row and chart marks."""
        return await dashboard.detail(check_id(session_id))

    @app.get("/api/sessions/{session_id}/events", response_model=EventsPage, tags=["sessions"])
    async def session_events(
        session_id: str,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> EventsPage:
        """The events with ``seq > after``, oldest first (output tails left out)."""
        found, more = await dashboard.events(check_id(session_id), after, limit)
        return EventsPage(events=found, more=more)

    @app.get(
        "/api/sessions/{session_id}/events/{seq}",
        response_model=TimestampedEvent,
        tags=["sessions"],
    )
    async def session_event(
        session_id: str, seq: Annotated[int, Path(ge=1, le=2**62)]
    ) -> TimestampedEvent:
        """One event, whole: a command's output tail with it."""
        return await dashboard.event(check_id(session_id), seq)

    @app.get(
        "/api/sessions/{session_id}/chart.svg",
        response_class=Response,
        tags=["sessions"],
        responses={200: {"content": {"image/svg+xml": {}}}},
    )
    async def chart(session_id: str) -> Response:
        """The session chart, drawn from its definition, with the session's place marked."""
        svg = await dashboard.chart_svg(check_id(session_id))
        return Response(svg, media_type="image/svg+xml")

    @app.post(
        "/api/sessions/{session_id}/{action}",
        response_model=ActionDone,
        tags=["actions"],
        responses={403: {"model": Problem}, 409: {"model": Problem}},
    )
    async def act(request: Request, session_id: str, action: str) -> ActionDone:
        """Do ``action`` (pause, resume) on the session: the token is needed."""
        refusal = guard.refusal(request.method, request.headers, request.cookies)
        if refusal is not None:
            raise ActionFailed(403, refusal)
        sid = check_id(session_id)
        if action not in ACTIONS:
            raise ActionFailed(404, f"no action {printable(action)[:40]!r}")
        message = await perform(dashboard, action, sid)
        row = await dashboard.wait_for_status(sid, lambda _row: True, 0)
        return ActionDone(session_id=sid, action=action, status=row.status, message=message)

    # -- live ---------------------------------------------------------------------------
    @app.get("/api/stream", tags=["live"], response_class=StreamingResponse)
    async def changes() -> StreamingResponse:
        """Server-Sent Events: ``change`` (``id``, ``seq``, ``kind``, ``status``) per move."""

        async def stream() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            async with dashboard.feed.subscribe() as queue:
                while True:
                    try:
                        change = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": still here\n\n"
                        continue
                    if dashboard.feed.closed:
                        return
                    yield _sse("change", change.as_json())

        return StreamingResponse(stream(), media_type="text/event-stream", headers=_NO_CACHE)

    @app.get("/api/sessions/{session_id}/stream", tags=["live"], response_class=StreamingResponse)
    async def session_stream(
        request: Request,
        session_id: str,
        after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    ) -> StreamingResponse:
        """Server-Sent Events: ``session-event`` (``id: SEQ``) per event, ``end`` when final.

        Starts after ``Last-Event-ID`` (sent by a reconnecting EventSource), else
        after ``after``, else from the first event.
        """
        sid = check_id(session_id)
        last_id = request.headers.get("last-event-id")
        if last_id is not None:
            if not last_id.isdigit() or len(last_id) > 18:
                raise BadRequest(f"Last-Event-ID is a seq, not {printable(last_id)[:40]!r}")
            after = int(last_id)
        detail = await dashboard.detail(sid)  # 404 before the stream starts
        timeouts = step_timeouts(detail.info.config)
        return StreamingResponse(
            _session_events(dashboard, sid, after or 0, timeouts),
            media_type="text/event-stream",
            headers=_NO_CACHE,
        )

    return app


_NO_CACHE: Final = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def _session_events(
    dashboard: Dashboard, sid: SessionId, after: int, timeouts: dict[str, float]
) -> AsyncIterator[str]:
    """The session's events after ``after``, read from the store, woken by the feed."""
    yield "retry: 1000\n\n"
    last = after
    quiet_since = time.monotonic()
    with dashboard.feed.watching(sid):
        while not dashboard.feed.closed:
            moved = False
            async for recorded in dashboard.manager.stream_events(sid, last, 200):
                yield _sse(
                    "session-event", entry(recorded, timeouts).model_dump(mode="json"), recorded.seq
                )
                last, moved = recorded.seq, True
            if moved:
                quiet_since = time.monotonic()
                continue
            rows = await dashboard.storage.listing([sid])
            if not rows or rows[0].status in TERMINAL:
                async for recorded in dashboard.manager.stream_events(sid, last):  # the last ones
                    yield _sse(
                        "session-event",
                        entry(recorded, timeouts).model_dump(mode="json"),
                        recorded.seq,
                    )
                yield _sse("end", {"status": rows[0].status if rows else None})
                return
            await dashboard.feed.wait(sid, last, dashboard.poll_seconds)
            if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield ": still here\n\n"
