"""Who is calling, in every service: one principal type, and the introspection client.

Who a credential is, and which tenants it sees, is decided by ticket-api alone (it owns the
directory). ticket-api builds a ``Principal`` from its directory on every request; sla-monitor
and the notifier ask it through ``Introspection`` (``GET /v1/principal``, ADR 0014), so a
tenant wall, a revoked key or a deactivated contact is the same in every service.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx2
from fastapi import Depends, Request
from opentelemetry import propagate
from pydantic import BaseModel, Field, ValidationError

from servicekit.problems import Problem, prefers_english

log = logging.getLogger(__name__)

ALL_TENANTS = "*"
"""In a principal's ``tenants``: every tenant (supervisors, admins, services, some agents)."""


class PrincipalInfo(BaseModel):
    """ticket-api's answer to ``GET /v1/principal``: who the presented credential is.

    The wire contract of introspection between ticket-api (the owner of the directory) and the
    read services, in the spirit of RFC 7662: the caller's own key or token, resolved against
    the directory as on every ticket-api request.
    """

    kind: str = Field(description="customer, agent, supervisor, admin or service")
    id: str
    name: str | None = None
    tenant: str | None = Field(None, description="A customer's own organization.")
    tenants: list[str] = Field(
        default_factory=list,
        description="The tenants whose data this principal sees (empty with all_tenants).",
    )
    all_tenants: bool = Field(False, description="Sees every tenant (supervisors, admins, …).")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a customer contact (of one tenant), staff or a service.

    ``tenants`` holds the tenants it sees, or ``ALL_TENANTS``; the default is none, so a
    principal built without its scope sees nothing rather than everything. ticket-api, which
    resolves credentials against its directory, also knows a customer's ``email``, ``locale``
    and ``contact`` record; the read services know what introspection tells them.
    """

    kind: str
    id: str
    name: str | None = None
    tenant: str | None = None
    tenants: tuple[str, ...] = ()
    email: str | None = None
    locale: str = "es"
    contact: dict[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def of(cls, info: PrincipalInfo) -> Principal:
        """From ticket-api's introspection; a customer sees their own tenant, whatever else."""
        if info.kind == "customer":
            tenants: tuple[str, ...] = (info.tenant or "",)
        elif info.all_tenants:
            tenants = (ALL_TENANTS,)
        else:
            tenants = tuple(t for t in info.tenants if t != ALL_TENANTS)
        return cls(kind=info.kind, id=info.id, name=info.name, tenant=info.tenant, tenants=tenants)

    @property
    def actor(self) -> dict[str, Any]:
        """As recorded on events (``contracts.events.Actor``)."""
        return {"kind": self.kind, "id": self.id, "name": self.name}

    @property
    def is_customer(self) -> bool:
        return self.kind == "customer"

    @property
    def sees_all(self) -> bool:
        return not self.is_customer and ALL_TENANTS in self.tenants

    def may_see(self, tenant: str) -> bool:
        """Customers see their own tenant; agents the tenants they serve; the rest all."""
        return self.sees_all or tenant in self.tenants

    def scope(self, tenant: str | None) -> list[str] | None:
        """The tenants a query may return (``None``: every tenant), narrowed to ``tenant``
        when the caller asks for one. A customer naming another tenant is refused (403);
        staff naming a tenant they do not serve get nothing, as on ticket-api's search."""
        if self.is_customer and tenant is not None and tenant != self.tenant:
            raise Problem(
                403,
                "not-allowed",
                en="Customers see only their own organization's tickets.",
                es="Los clientes solo ven los tickets de su propia organización.",
            )
        if self.sees_all:
            return None if tenant is None else [tenant]
        if tenant is None:
            return list(self.tenants)
        return [tenant] if self.may_see(tenant) else []

    def require(self, *kinds: str, doing: str) -> None:
        """Refuse (403) a principal of another kind than ``kinds``."""
        if self.kind not in kinds:
            raise Problem(
                403,
                "not-allowed",
                en=f"A {self.kind} cannot {doing}.",
                es=f"Un usuario de tipo {self.kind} no puede realizar: {doing}.",
            )

    def require_staff(self, *, doing: str, hacer: str) -> None:
        """Refuse customers (403) for staff-only reads such as the delivery log."""
        if self.is_customer:
            raise Problem(
                403,
                "not-allowed",
                en=f"Only staff and services may {doing}.",
                es=f"Solo el personal y los servicios pueden {hacer}.",
            )


NOT_AUTHENTICATED = Problem(
    401,
    "not-authenticated",
    en="Send a valid API key or token: 'Authorization: Bearer <key>' (see README).",
    es="Envíe una clave o token válidos: 'Authorization: Bearer <clave>' (vea README).",
    headers={"WWW-Authenticate": "Bearer"},
)


class Introspection:
    """Resolves a request's credential by asking ticket-api (``GET /v1/principal``).

    The caller's own ``Authorization`` / ``X-API-Key`` is forwarded, so sla-monitor and the
    notifier accept exactly what ticket-api accepts (directory API keys, OIDC tokens, its
    development keys in dev mode) and scope tenants exactly as it does — one directory, one
    tenant wall. Answers are cached per credential (a SHA-256 of it, never the credential) for
    ``ttl`` seconds: a burst of dashboard reads costs one call, and a revoked key or a
    deactivated contact is shut out within ``ttl``. Refusals (401/403) are cached too, so a
    client repeating a bad key does not hammer ticket-api.

    It fails closed: ticket-api unreachable, slow (``timeout``) or answering nonsense is a 503
    problem, never a fallback to some default scope.
    """

    def __init__(
        self,
        base_url: str | None,
        *,
        ttl: float = 5.0,
        timeout: float = 2.0,
        max_entries: int = 10_000,
        transport: httpx2.AsyncBaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url
        self.ttl = ttl
        self.timeout = timeout
        self.max_entries = max_entries
        self.transport = transport
        self.monotonic = monotonic
        self.calls = 0
        """Requests made to ticket-api (observability and tests)."""
        self._cache: dict[str, tuple[float, Principal | Problem]] = {}
        self._client: httpx2.AsyncClient | None = None

    async def principal(self, request: Request) -> Principal:
        """The principal behind the request's credential (a FastAPI dependency's body)."""
        return await self.resolve(request.headers)

    async def resolve(self, headers: Mapping[str, str]) -> Principal:
        """The principal behind ``headers``' credential, or the problem ticket-api answered.

        ``headers`` must look names up case-insensitively (Starlette's ``Headers`` do).
        """
        forwarded = {
            name: headers[name] for name in ("authorization", "x-api-key") if headers.get(name)
        }
        if not forwarded:
            raise NOT_AUTHENTICATED.copy()
        english = prefers_english(headers.get("accept-language"))
        key = hashlib.sha256(
            "\n".join(
                [
                    forwarded.get("authorization", ""),
                    forwarded.get("x-api-key", ""),
                    "en" if english else "es",
                ]
            ).encode()
        ).hexdigest()
        now = self.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return _answer(cached[1])
        answer = await self._ask(forwarded, english)
        if isinstance(answer, Principal) or answer.status in (401, 403):
            self._remember(key, now + self.ttl, answer)
        return _answer(answer)

    async def aclose(self) -> None:
        """Close the connection pool (the app's shutdown); a later call opens a new one."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def _ask(self, forwarded: dict[str, str], english: bool) -> Principal | Problem:
        if not self.base_url:
            return Problem(
                503,
                "directory-unavailable",
                en="This service has no ticket-api URL to check credentials with.",
                es="Este servicio no tiene la URL de ticket-api para comprobar credenciales.",
                headers={"Retry-After": "30"},
            )
        headers = forwarded | {"Accept-Language": "en" if english else "es"}
        propagate.inject(headers)  # the check shows in the caller's trace
        self.calls += 1
        try:
            response = await self._http().get("/v1/principal", headers=headers)
        except httpx2.HTTPError as exc:
            log.warning("ticket-api unreachable for introspection: %s", type(exc).__name__)
            return _directory_unavailable()
        if response.status_code == 200:
            try:
                return Principal.of(PrincipalInfo.model_validate_json(response.content))
            except ValidationError:
                log.error("ticket-api answered introspection with an unexpected body")
                return _directory_unavailable()
        if response.status_code in (401, 403, 429):
            return _passed_on(response)
        log.warning("ticket-api answered introspection with %s", response.status_code)
        return _directory_unavailable()

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            assert self.base_url is not None
            self._client = httpx2.AsyncClient(
                base_url=self.base_url, timeout=self.timeout, transport=self.transport
            )
        return self._client

    def _remember(self, key: str, until: float, answer: Principal | Problem) -> None:
        if len(self._cache) >= self.max_entries:
            now = self.monotonic()
            for stale in [k for k, (expiry, _) in self._cache.items() if expiry <= now]:
                del self._cache[stale]
            while len(self._cache) >= self.max_entries:  # still full: drop the oldest
                del self._cache[next(iter(self._cache))]
        self._cache[key] = (until, answer)


def _answer(answer: Principal | Problem) -> Principal:
    if isinstance(answer, Problem):
        raise answer.copy()  # a fresh exception: re-raising one object grows its traceback
    return answer


def _directory_unavailable() -> Problem:
    return Problem(
        503,
        "directory-unavailable",
        en="Credentials cannot be checked: ticket-api does not answer. Retry shortly.",
        es="No se pueden comprobar las credenciales: ticket-api no responde. Reintente en breve.",
        headers={"Retry-After": "5"},
    )


def _passed_on(response: httpx2.Response) -> Problem:
    """ticket-api's refusal as the same problem (status, code, detail in the asked language)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    fallback = NOT_AUTHENTICATED if response.status_code == 401 else None
    code = str(body.get("code") or (fallback.code if fallback else "not-allowed"))
    detail = str(body.get("detail") or (fallback.en if fallback else "Not allowed."))
    headers = {
        name: response.headers[name]
        for name in ("WWW-Authenticate", "Retry-After")
        if name in response.headers
    }
    return Problem(response.status_code, code, en=detail, es=detail, headers=headers)


async def current_principal(request: Request) -> Principal:
    """The caller, resolved by the app's ``Introspection`` (``app.state.principals``)."""
    principals: Introspection = request.app.state.principals
    return await principals.principal(request)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
