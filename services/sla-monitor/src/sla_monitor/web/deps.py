"""What the board's pages share: the board (sessions, templates), the signed-in person and the
page's language.

A page without a valid session redirects to the sign-in form (browsers follow that, they do
not read problem documents); a credential ticket-api no longer accepts ends the session the
same way. Customers are refused: the board shows every tenant's queue it may, and a customer
has the portal.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from servicekit.web import Introspection, Principal, Problem
from sla_monitor.api.deps import SlaReader
from sla_monitor.settings import Settings
from sla_monitor.web.i18n import Words, countdown
from sla_monitor.web.session import SESSION_COOKIE, Session, Sessions

STATIC = Path(__file__).parent / "static"
LANG_COOKIE = "board_lang"


class SignInNeeded(Exception):
    """No session, or its credential no longer passes: to the sign-in form."""

    def __init__(self, then: str) -> None:
        super().__init__(then)
        self.then = then


@dataclass
class Board:
    """The board's own state: its sessions (in the database) and its templates."""

    settings: Settings
    sessions: Sessions
    templates: Environment = field(
        default_factory=lambda: Environment(
            loader=PackageLoader("sla_monitor.web", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
    )

    @classmethod
    def of(cls, settings: Settings, reader: SlaReader) -> Board:
        """The board of an app: sessions in the reader's database, on the reader's clock."""
        secret = settings.board_secret
        key = secret.get_secret_value().encode() if secret else secrets.token_bytes(32)
        sessions = Sessions(
            key, ttl=settings.board_session_hours * 3600, db=reader.db, now=reader.clock.now
        )
        return cls(settings, sessions)

    def page(self, template: str, words: Words, status: int = 200, **context: Any) -> HTMLResponse:
        body = self.templates.get_template(template).render(
            t=words, lang=words.lang, countdown=countdown, local=local, **context
        )
        return HTMLResponse(body, status_code=status, headers={"Content-Language": words.lang})


def local(value: datetime | None, zone: Any = None) -> str:
    """An instant as people read it on the board (with its offset, to the minute)."""
    if value is None:
        return "—"
    shown = value.astimezone(zone) if zone is not None else value
    return shown.strftime("%Y-%m-%d %H:%M %z")


def board_of(request: Request) -> Board:
    board: Board = request.app.state.board
    return board


def words_of(request: Request) -> Words:
    """``lang`` in the query (kept in a cookie by the page), else the cookie; Spanish first."""
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return Words(english=lang == "en")


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as ticket-api resolves their credential now."""

    principal: Principal
    session: Session
    headers: dict[str, str]

    def scope(self, tenant: str | None = None) -> list[str] | None:
        return self.principal.scope(tenant)


def credential_headers(credential: str, words: Words) -> dict[str, str]:
    return {"authorization": f"Bearer {credential}", "accept-language": words.lang}


async def viewer_of(request: Request) -> Viewer:
    board, words = board_of(request), words_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    session = await board.sessions.get(cookie)
    then = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if session is None:
        raise SignInNeeded(then)
    headers = credential_headers(session.credential, words)
    principals: Introspection = request.app.state.principals
    try:
        principal = await principals.resolve(headers)
    except Problem as refused:
        if refused.status in (401, 403):
            await board.sessions.close(cookie)
            raise SignInNeeded(then) from None
        raise
    if principal.is_customer:
        await board.sessions.close(cookie)
        raise SignInNeeded(then)
    return Viewer(principal, session, headers)


def reader_of(request: Request) -> SlaReader:
    reader: SlaReader = request.app.state.reader
    return reader


BoardDep = Annotated[Board, Depends(board_of)]
WordsDep = Annotated[Words, Depends(words_of)]
ViewerDep = Annotated[Viewer, Depends(viewer_of)]
ReaderDep = Annotated[SlaReader, Depends(reader_of)]
