"""The HTTP edge the read services share: problem responses and who is calling.

sla-monitor and notifier serve small read APIs with the same error contract as ticket-api
(RFC 9457, Spanish by default, English on ``Accept-Language: en``) and the same API keys.
Their handlers and principal lookup live here once instead of in a copy per service.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.problems import MEDIA_TYPE, prefers_english, problem_document

log = logging.getLogger(__name__)

DEV_PRINCIPALS: dict[str, dict[str, str]] = {
    "dev-customer": {
        "kind": "customer",
        "id": "contact-ana",
        "name": "Ana Ruiz",
        "tenant": "acme",
    },
    "dev-agent": {"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"},
    "dev-supervisor": {"kind": "supervisor", "id": "sup-marco", "name": "Marco Díaz"},
    "dev-service": {"kind": "service", "id": "dashboards", "name": "dashboards"},
}
"""One development key per role, the same keys as ticket-api's (see README)."""


class Problem(Exception):
    """An error answered as-is (raised by views)."""

    def __init__(
        self,
        status: int,
        code: str,
        *,
        en: str,
        es: str,
        headers: dict[str, str] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(en)
        self.status, self.code, self.en, self.es = status, code, en, es
        self.headers = headers or {}
        self.field = field


def wants_english(request: Request) -> bool:
    return prefers_english(request.headers.get("accept-language"))


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = problem_document(status, code, detail, instance=request.url.path, errors=errors)
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
    503 with ``Retry-After`` and the given message, never a 500 with a stack trace.
    """

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        detail = exc.en if wants_english(request) else exc.es
        errors = None
        if exc.field:
            errors = [{"field": exc.field, "message": detail, "type": exc.code}]
        return problem(request, exc.status, exc.code, detail, errors=errors, headers=exc.headers)

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


@dataclass(frozen=True)
class Principal:
    """Who is calling a read API: a customer contact (of one tenant), staff or a service."""

    kind: str
    id: str
    name: str | None = None
    tenant: str | None = None

    @property
    def is_customer(self) -> bool:
        return self.kind == "customer"

    def may_see(self, tenant: str) -> bool:
        """Customers see their own tenant only; staff and services see all."""
        return not self.is_customer or self.tenant == tenant

    def scope(self, tenant: str | None) -> str | None:
        """The tenant filter a query runs with: a customer's own, whatever they asked."""
        if not self.is_customer:
            return tenant
        if tenant is not None and tenant != self.tenant:
            raise Problem(
                403,
                "not-allowed",
                en="Customers see only their own organization's tickets.",
                es="Los clientes solo ven los tickets de su propia organización.",
            )
        return self.tenant or ""

    def require_staff(self, *, doing: str, hacer: str) -> None:
        """Refuse customers (403) for staff-only reads such as the delivery log."""
        if self.is_customer:
            raise Problem(
                403,
                "not-allowed",
                en=f"Only staff and services may {doing}.",
                es=f"Solo el personal y los servicios pueden {hacer}.",
            )


def principal_from_keys(request: Request, keys: Mapping[str, Mapping[str, str]]) -> Principal:
    """The principal of ``Authorization: Bearer <key>`` (or ``X-API-Key``), else 401."""
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else None
    key = key or request.headers.get("x-api-key")
    if not key or key not in keys:
        raise Problem(
            401,
            "not-authenticated",
            en="Send an API key: 'Authorization: Bearer <key>' (see the README).",
            es="Envíe una clave de API: 'Authorization: Bearer <clave>' (vea el README).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    known = {k: v for k, v in keys[key].items() if k in ("kind", "id", "name", "tenant")}
    return Principal(**known)
