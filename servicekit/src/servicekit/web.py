"""The HTTP edge every service shares: problem responses, and (from ``principals``) who calls.

All three services answer errors with the same contract (RFC 9457, Spanish by default, English
on ``Accept-Language: en``): ``Problem`` (``servicekit.problems``) raised by a view becomes the
document here. ``install_problems`` registers the read services' handlers; ``install_fallbacks``
the two every service shares (an HTTP error of the router, anything unexpected), which
ticket-api installs beside handlers of its own domain errors. ``Principal``, ``Introspection``
and ``CurrentPrincipal`` live in ``servicekit.principals`` and are importable from here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit.openapi import ProblemDocument as ProblemDocument  # the one problem schema
from servicekit.principals import ALL_TENANTS as ALL_TENANTS
from servicekit.principals import NOT_AUTHENTICATED as NOT_AUTHENTICATED
from servicekit.principals import CurrentPrincipal as CurrentPrincipal
from servicekit.principals import Introspection as Introspection
from servicekit.principals import Principal as Principal
from servicekit.principals import PrincipalInfo as PrincipalInfo
from servicekit.principals import current_principal as current_principal
from servicekit.problems import MEDIA_TYPE, prefers_english, problem_document
from servicekit.problems import Problem as Problem

log = logging.getLogger(__name__)


def wants_english(request: Request) -> bool:
    return prefers_english(request.headers.get("accept-language"))


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = problem_document(
        status, code, detail, instance=request.url.path, title=title, errors=errors
    )
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install_problems(
    app: FastAPI,
    *,
    unavailable: tuple[type[Exception], ...],
    unavailable_en: str,
    unavailable_es: str,
) -> None:
    """Register the handlers that turn every failure into a problem document.

    ``unavailable`` are the errors of the service's dependencies (its database): they answer
    503 with ``Retry-After`` and the given message, never a 500 with a stack trace. A value the
    database refuses (``asyncpg.DataError``: a NUL byte, text where a number goes) is a subclass
    of ``PostgresError`` but no outage: it is the request's fault and answers 422, so clients do
    not retry it and monitoring does not page anyone over a bad query string.
    """

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        english = wants_english(request)
        detail = exc.en if english else exc.es
        title = exc.title_en if english else exc.title_es
        errors = None
        if exc.field:
            errors = [{"field": exc.field, "message": detail, "type": exc.code}]
        return problem(
            request, exc.status, exc.code, detail, title=title, errors=errors, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p not in ("query", "path", "header")),
                "message": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        detail = (
            "The request has invalid fields; see errors."
            if wants_english(request)
            else "La solicitud tiene campos inválidos; vea errors."
        )
        return problem(request, 422, "invalid-request", detail, errors=errors)

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable: %s", type(exc).__name__)
        detail = unavailable_en if wants_english(request) else unavailable_es
        return problem(request, 503, "database-unavailable", detail, headers={"Retry-After": "5"})

    for error in (*unavailable, ConnectionError):
        app.add_exception_handler(error, _unavailable)

    @app.exception_handler(asyncpg.DataError)
    async def _refused_value(request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # Handlers are looked up along the exception's classes, so this one wins over a
        # PostgresError registered as unavailable.
        log.info("value refused by the database: %s", type(exc).__name__)
        detail = (
            "A parameter has a value the service cannot use (e.g. a control character)."
            if wants_english(request)
            else "Un parámetro tiene un valor que el servicio no admite (p. ej. un carácter de "
            "control)."
        )
        return problem(request, 422, "invalid-value", detail)

    install_fallbacks(app)


def install_fallbacks(app: FastAPI) -> None:
    """The handlers every service shares: the router's HTTP errors (404, 405) as problems, and
    anything unexpected as a plain 500 problem, logged, never a stack trace."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem(
            request, exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        detail = (
            "Something went wrong on our side; it has been logged."
            if wants_english(request)
            else "Algo falló de nuestro lado; quedó registrado."
        )
        return problem(request, 500, "internal-error", detail)
