"""Every error as RFC 9457 ``application/problem+json``, in one place.

Clients get a stable ``type`` URI and ``code`` to branch on, a ``title``, a ``detail`` in the
language they asked for (``Accept-Language``: Spanish by default, English on request) and, for
invalid input, the fields at fault. Nothing unexpected ever leaks a stack trace: it is logged and
answered as a plain 500 problem.

``Problem``, ``problem`` and the fallback handlers are the ones every service shares
(``servicekit.web``); here are what ticket-api's own errors are told (``refusal``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import DataError, InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from servicekit.problems import problem_document
from servicekit.web import Problem as Problem  # the one problem type, raised by views here
from servicekit.web import install_fallbacks
from servicekit.web import problem as problem
from servicekit.web import wants_english as wants_english
from ticket_api.application import (
    CaseNumbersBusy,
    ConcurrentUpdate,
    IdempotencyKeyReused,
    StaleVersion,
    TicketNotFound,
)
from ticket_api.domain.errors import (
    AccessRefused,
    NotRegistered,
    RequestRefused,
    TicketRuleBroken,
)
from ticket_api.read_model import InvalidCursor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """A domain error as the client is told it, in one language."""

    status: int
    code: str
    detail: str
    title: str | None = None
    errors: list[dict[str, Any]] | None = None
    headers: dict[str, str] | None = None

    def document(self, instance: str) -> dict[str, Any]:
        return problem_document(
            self.status,
            self.code,
            self.detail,
            instance=instance,
            title=self.title,
            errors=self.errors,
        )

    def response(self, request: Request) -> JSONResponse:
        return problem(
            request,
            self.status,
            self.code,
            self.detail,
            title=self.title,
            errors=self.errors,
            headers=self.headers,
        )


def refusal(exc: Exception, *, english: bool) -> Refusal | None:
    """What a refused request (or one item of a bulk request) is told; None: not a refusal.

    One place for both the error handlers and the items of ``POST /v1/tickets/bulk``, so an
    item fails exactly as the same command on its own would.
    """
    language = "en" if english else "es"
    if isinstance(exc, Problem):
        errors = None
        if exc.field is not None:
            errors = [{"field": exc.field, "message": exc.en if english else exc.es}]
            errors[0]["type"] = exc.code
        detail = exc.en if english else exc.es
        title = exc.title_en if english else exc.title_es
        return Refusal(
            exc.status, exc.code, detail, title=title, errors=errors, headers=exc.headers
        )
    if isinstance(exc, RequestRefused):
        detail = exc.message(language)
        errors = [{"field": exc.field, "message": detail, "type": exc.code}]
        return Refusal(422, exc.code, detail, title=exc.title, errors=errors)
    if isinstance(exc, TicketRuleBroken):
        return Refusal(409, exc.code, exc.message(language), title="Not allowed in this state")
    if isinstance(exc, NotRegistered):  # AccessRefused is known, but not allowed: 403
        return Refusal(
            403 if isinstance(exc, AccessRefused) else 404, exc.code, exc.message(language)
        )
    if isinstance(exc, TicketNotFound):
        detail = f"No ticket {exc}." if english else f"No existe el ticket {exc}."
        return Refusal(404, "ticket-not-found", detail)
    if isinstance(exc, StaleVersion):
        detail = (
            f"The ticket changed: it is at version {exc.current}. Read it again and retry."
            if english
            else f"El ticket cambió: está en la versión {exc.current}. Léalo de nuevo y reintente."
        )
        return Refusal(412, "stale-version", detail, headers={"ETag": f'"{exc.current}"'})
    if isinstance(exc, ConcurrentUpdate):
        detail = (
            "Another change to this ticket was saved first; read it again and retry."
            if english
            else "Otro cambio a este ticket se guardó primero; léalo de nuevo y reintente."
        )
        return Refusal(409, "concurrent-update", detail)
    if isinstance(exc, IdempotencyKeyReused):
        detail = (
            "This Idempotency-Key was already used for a different request."
            if english
            else "Esta Idempotency-Key ya se usó con una solicitud diferente."
        )
        return Refusal(422, "idempotency-key-reused", detail)
    return None


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "header", "path")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a problem document."""

    @app.exception_handler(Problem)
    @app.exception_handler(TicketRuleBroken)
    @app.exception_handler(NotRegistered)
    @app.exception_handler(TicketNotFound)
    @app.exception_handler(StaleVersion)
    @app.exception_handler(ConcurrentUpdate)
    @app.exception_handler(IdempotencyKeyReused)
    async def _refused(request: Request, exc: Exception) -> JSONResponse:
        answer = refusal(exc, english=wants_english(request))
        assert answer is not None  # registered for exactly the errors refusal() knows
        return answer.response(request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(tuple(e["loc"])), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            detail = (
                "The body is not valid JSON."
                if wants_english(request)
                else "El cuerpo de la solicitud no es JSON válido."
            )
            return problem(request, 400, "malformed-json", detail, errors=errors)
        detail = (
            "The request has invalid fields; see errors."
            if wants_english(request)
            else "La solicitud tiene campos inválidos; vea errors."
        )
        return problem(request, 422, "invalid-request", detail, errors=errors)

    @app.exception_handler(CaseNumbersBusy)
    async def _busy(request: Request, exc: CaseNumbersBusy) -> JSONResponse:
        detail = (
            "Too many tickets are being opened at once; nothing was saved. Retry shortly."
            if wants_english(request)
            else "Se están abriendo demasiados tickets a la vez; no se guardó nada. "
            "Reintente en breve."
        )
        return problem(request, 503, "case-numbers-busy", detail, headers={"Retry-After": "1"})

    @app.exception_handler(InvalidCursor)
    async def _cursor(request: Request, exc: InvalidCursor) -> JSONResponse:
        detail = (
            "The cursor is not one this server gave out."
            if wants_english(request)
            else "El cursor no es válido."
        )
        return problem(request, 400, "invalid-cursor", detail)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("event store unavailable: %s", type(exc).__name__)
        detail = (
            "The ticket store is unreachable; nothing was saved. Retry shortly."
            if wants_english(request)
            else "El almacén de tickets no responde; no se guardó nada. Reintente en breve."
        )
        return problem(request, 503, "store-unavailable", detail, headers={"Retry-After": "5"})

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # The store is up and refused these values (out of range, not encodable): resending
        # the same request cannot help, so this is the client's 422, not an outage's 503.
        log.warning("the event store refused the data: %s", exc)
        detail = (
            "The store refused a value of this request; nothing was saved. Check the fields."
            if wants_english(request)
            else "El almacén rechazó un valor de la solicitud; no se guardó nada. Revise los "
            "campos."
        )
        return problem(request, 422, "unstorable-value", detail)

    install_fallbacks(app)
