"""The board's pages: sign-in and sign-out, the queue (live or as of an instant), a ticket's
clocks, receipt and escalations, and compliance per policy and priority. Views parse, call the
service and render; the HTML is the templates'."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from servicekit.web import Introspection, Problem
from sla_monitor.web import service
from sla_monitor.web.deps import (
    LANG_COOKIE,
    Board,
    BoardDep,
    ReaderDep,
    ViewerDep,
    WordsDep,
    credential_headers,
)
from sla_monitor.web.i18n import Words
from sla_monitor.web.queue import Filters
from sla_monitor.web.session import CSRF_COOKIE, SESSION_COOKIE

router = APIRouter(prefix="/board", include_in_schema=False)
Text = Annotated[str | None, Query(max_length=100)]
Instant = Annotated[str | None, Query(max_length=40)]


def stream_url(request: Request, rendered: datetime) -> str:
    """The page's live stream: its filters, and the instant the page was rendered at."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("since", "as_of")]
    return "/board/stream?" + urlencode([*params, ("since", rendered.isoformat())])


def parse_instant(text: str | None) -> datetime | None:
    """An ISO 8601 instant with its zone (``Z`` or an offset); None when empty; ValueError when
    it names no zone (a board read in two countries must not guess one)."""
    if not text or not text.strip():
        return None
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T"))
    if value.tzinfo is None:
        raise ValueError("naive instant")
    return value


def remember_language(request: Request, response: Response) -> Response:
    lang = request.query_params.get("lang")
    if lang in ("es", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


@router.get("", response_class=HTMLResponse)
async def queue(
    request: Request,
    board: BoardDep,
    reader: ReaderDep,
    viewer: ViewerDep,
    words: WordsDep,
    policy: Text = None,
    tenant: Text = None,
    priority: Text = None,
    agent: Text = None,
    as_of: Instant = None,
) -> Response:
    """Open tickets by business time left; pushed live, or replayed as of an instant."""
    filters = Filters(policy or None, tenant or None, priority or None, agent or None)
    scope = viewer.scope(filters.tenant)
    error = None
    try:
        instant = parse_instant(as_of)
    except ValueError:
        instant, error = None, words("bad_instant")
    position, size = None, board.settings.board_page_size
    if instant is None:
        rows, total = await service.queue_now(
            reader=reader, scope=scope, filters=filters, page=size
        )
    else:
        rows, position = await service.queue_as_of(
            reader=reader, scope=scope, filters=filters, as_of=instant
        )
        total = len(rows)
    page = board.page(
        "queue.html",
        words,
        rows=rows[:size],
        total=total,
        filters=filters,
        choices=await service.choices(reader=reader, scope=viewer.scope()),
        as_of=instant,
        as_of_text=as_of or "",
        position=position,
        error=error,
        viewer=viewer,
        stream=stream_url(request, reader.clock.now()),
    )
    return remember_language(request, page)


@router.get("/tickets/{ref}", response_class=HTMLResponse)
async def ticket(
    request: Request,
    ref: str,
    board: BoardDep,
    reader: ReaderDep,
    viewer: ViewerDep,
    words: WordsDep,
    as_of: Instant = None,
) -> Response:
    """A ticket's clocks, receipt and escalations, now or as of an instant."""
    try:
        instant = parse_instant(as_of)
    except ValueError:
        instant = None
    found = await service.ticket_page(
        reader=reader, scope=viewer.scope(), ref=ref[:64], as_of=instant, english=words.english
    )
    if found is None:
        return board.page("error.html", words, 404, message=words("not_found"), viewer=viewer)
    page = board.page(
        "ticket.html", words, ticket=found, as_of=instant, as_of_text=as_of or "", viewer=viewer
    )
    return remember_language(request, page)


@router.get("/compliance", response_class=HTMLResponse)
async def compliance(
    board: BoardDep,
    reader: ReaderDep,
    viewer: ViewerDep,
    words: WordsDep,
    policy: Text = None,
    since: Instant = None,
    until: Instant = None,
) -> Response:
    """Clocks met on time per policy and priority in a period (30 days up to now by default)."""
    try:
        end = parse_instant(until) or reader.clock.now()
        start = parse_instant(since) or end - timedelta(days=30)
        error = None if start < end else words("bad_instant")
    except ValueError:
        end, error = reader.clock.now(), words("bad_instant")
        start = end - timedelta(days=30)
    items = (
        []
        if error
        else await service.compliance(
            reader=reader, scope=viewer.scope(), policy=policy or None, since=start, until=end
        )
    )
    return board.page(
        "compliance.html",
        words,
        items=items,
        policies=sorted(reader.policies),
        policy=policy or "",
        since=start,
        until=end,
        error=error,
        viewer=viewer,
    )


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(board: BoardDep, words: WordsDep, then: str = "/board") -> Response:
    return sign_in_page(board, words, then, None, 200)


def sign_in_page(board: Board, words: Words, then: str, error: str | None, status: int) -> Response:
    """The form, with a fresh double-submit CSRF token (its twin in a signed cookie)."""
    token, cookie = board.sessions.csrf_pair()
    page = board.page("sign_in.html", words, status, csrf=token, then=then, error=error)
    page.set_cookie(
        CSRF_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=board.settings.board_cookie_secure,
    )
    return page


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, board: BoardDep, words: WordsDep) -> Response:
    """Check the credential with ticket-api, refuse customers, open a session."""
    form = dict(parse_qsl((await request.body()).decode(errors="replace")[:20_000]))
    then = safe_then(form.get("then", "/board"))
    if not board.sessions.csrf_matches(form.get("csrf"), request.cookies.get(CSRF_COOKIE)):
        return sign_in_page(board, words, then, words("csrf"), 403)
    credential = form.get("credential", "").strip()
    principals: Introspection = request.app.state.principals
    try:
        principal = await principals.resolve(credential_headers(credential, words))
    except Problem as refused:
        if refused.status not in (401, 403):
            raise
        return sign_in_page(board, words, then, words("refused"), 401)
    if principal.is_customer:
        return sign_in_page(board, words, then, words("customers_refused"), 403)
    cookie, _ = await board.sessions.open(credential, f"{principal.kind}:{principal.id}")
    response = RedirectResponse(then, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=board.settings.board_cookie_secure,
        max_age=int(board.settings.board_session_hours * 3600),
    )
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, board: BoardDep, viewer: ViewerDep) -> Response:
    form = dict(parse_qsl((await request.body()).decode(errors="replace")[:2_000]))
    if form.get("csrf") != viewer.session.csrf:  # a forged form: the session stays
        return RedirectResponse("/board", status_code=303)
    await board.sessions.close(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/board/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def safe_then(then: str) -> str:
    """Only back into the board: a sign-in link must not redirect anywhere else."""
    return then if then.startswith("/board") and "//" not in then and "\\" not in then else "/board"
