"""The supervisor's board: sla-monitor's clocks in a browser, rendered on the server.

``install(app, settings)`` adds the pages (``/board``: the live queue, a ticket, compliance,
sign-in), their stream and their static files (a stylesheet and a small script, no build
step) to sla-monitor's app. The board reads what the read API reads, with the same tenant
scope; it is for staff, in Spanish by default and English on request (ADR 0021).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from sla_monitor.settings import Settings
from sla_monitor.web import pages, stream
from sla_monitor.web.deps import STATIC, Board, SignInNeeded

__all__ = ["install"]


def install(app: FastAPI, settings: Settings) -> None:
    """The board's routes, static files and sign-in redirect on ``app``."""
    app.state.board = Board.of(settings, app.state.reader)
    app.include_router(pages.router)
    app.include_router(stream.router)
    app.mount("/board/static", StaticFiles(directory=STATIC), name="board-static")

    async def to_sign_in(request: Request, exc: Exception) -> RedirectResponse:
        assert isinstance(exc, SignInNeeded)
        return RedirectResponse(f"/board/sign-in?then={exc.then}", status_code=303)

    app.add_exception_handler(SignInNeeded, to_sign_in)
