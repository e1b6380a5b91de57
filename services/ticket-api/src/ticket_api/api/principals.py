"""Who is calling: every endpoint receives the acting principal through one dependency.

Three ways in, all resolved against the directory so that a deactivated tenant, contact or
staff member is shut out at once, whatever credential they hold:

- **API keys** (``Authorization: Bearer sdk_…`` or ``X-API-Key``): issued by an admin, shown
  once, stored as a hash, revocable (``ticket_api.domain.directory.ApiKey``).
- **OIDC bearer tokens** (JWT): signature checked against the issuer's JWKS (fetched and
  cached; an unknown ``kid`` refetches it, which is how key rotation reaches us), ``iss``,
  ``aud`` and expiry verified. The role comes from a claim (``roles`` by default); a customer
  is the registered contact with the token's ``email``; staff are registered by ``sub``.
- **Development keys** (``TICKET_API_DEV_MODE=true`` only, as ``make run`` does): fixed keys
  for the seeded development directory (see README).

Each principal is rate limited (a moving window per principal), answering 429 with
``Retry-After``; every authenticated answer tells the caller where it stands with the
``RateLimit-Policy`` and ``RateLimit`` fields (``RateLimitHeaders``). Failed authentications
are slowed down per credential presented and client address, never per address alone: a
credential is always checked first, so nobody sharing a customer's NAT can lock that customer
out by sending bad keys. Credentials are never logged (the failure counter keys on a hash).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.principals import Principal as Principal  # the one principal type
from ticket_api.api.problems import Problem
from ticket_api.directory import STAFF_ROLES, Directory, Holder
from ticket_api.domain.errors import AccessRefused, NotRegistered
from ticket_api.settings import Settings

log = logging.getLogger(__name__)
STAFF = set(STAFF_ROLES)
KINDS = {"customer", "service", *STAFF}


def principal_of(holder: Holder) -> Principal:
    """The principal a directory holder is (``servicekit.principals.Principal``, the one type
    of every service): a customer sees their own tenant, staff the tenants they serve."""
    contact = holder.contact or {}
    return Principal(
        kind=holder.kind,
        id=holder.id,
        name=holder.name,
        tenant=holder.tenant,
        email=contact.get("email"),
        locale=contact.get("locale") or "es",
        tenants=(holder.tenant or "",) if holder.kind == "customer" else holder.tenants,
        contact=holder.contact,
    )


class Authenticator:
    """Turns a request's credential into a principal (one per app, built by the factory)."""

    def __init__(self, settings: Settings, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory
        self.jwks = (
            jwt.PyJWKClient(
                settings.oidc_jwks_url,
                cache_keys=True,
                lifespan=3600,
                timeout=5,
                cooldown_duration=settings.oidc_jwks_refresh_cooldown_seconds,
            )
            if settings.oidc_jwks_url
            else None
        )
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.per_principal = parse(settings.rate_limit)
        self.per_failure = parse(settings.failed_auth_rate_limit)

    def __call__(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        credential = header[7:].strip() if header.lower().startswith("bearer ") else None
        credential = credential or request.headers.get("x-api-key")
        try:
            holder = self._holder(credential) if credential else None
        except AccessRefused as refused:
            raise Problem(403, refused.code, en=refused.en, es=refused.es) from None
        if holder is None:
            raise self._failed(request, credential or "")
        allowed = self.limiter.hit(self.per_principal, holder.kind, holder.id)
        remaining, reset = self._standing(self.per_principal, holder.kind, holder.id)
        headers = rate_limit_headers(self.per_principal, remaining, reset)
        request.state.rate_limit = headers
        if not allowed:
            raise self._too_many(self.per_principal, reset, headers)
        return principal_of(holder)

    def _failed(self, request: Request, credential: str) -> Problem:
        """A 401, or a 429 once this credential failed too often from this address.

        The counter is keyed by what was presented (a SHA-256 of it, never the credential)
        and where from: a client retrying a dead key is slowed down, while the same address
        presenting a valid key was already served above. Counting per address alone would
        let anyone behind a customer's NAT lock that customer out with 30 bad keys.
        """
        client = request.client.host if request.client else "unknown"
        presented = hashlib.sha256(credential.encode()).hexdigest()[:32]
        if not self.limiter.hit(self.per_failure, "failed", client, presented):
            _, reset = self._standing(self.per_failure, "failed", client, presented)
            return self._too_many(self.per_failure, reset)
        return Problem(
            401,
            "not-authenticated",
            en="Send a valid API key or token: 'Authorization: Bearer <key>' (see README).",
            es="Envíe una clave o token válidos: 'Authorization: Bearer <clave>' (vea README).",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def _standing(self, limit: RateLimitItem, *key: str) -> tuple[int, int]:
        """Requests left in the moving window, and seconds until its oldest one leaves it."""
        stats = self.limiter.get_window_stats(limit, *key)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return max(0, stats.remaining), reset

    def _too_many(
        self, limit: RateLimitItem, reset: int, headers: dict[str, str] | None = None
    ) -> Problem:
        seconds = max(1, reset)
        return Problem(
            429,
            "too-many-requests",
            en=f"Too many requests; at most {limit}. Retry in {seconds} s.",
            es=f"Demasiadas solicitudes; como máximo {limit}. Reintente en {seconds} s.",
            headers={**(headers or {}), "Retry-After": str(seconds)},
            title_en="Too many requests",
            title_es="Demasiadas solicitudes",
        )

    def _holder(self, credential: str) -> Holder | None:
        try:
            if credential.startswith("sdk_"):
                stored = self.directory.key_holder(credential)
                if stored is None:
                    return None
                return self.directory.resolve(stored["kind"], stored["id"], stored.get("tenant"))
            if credential in self.settings.dev_keys:
                dev = self.settings.dev_keys[credential]
                return self.directory.resolve(dev["kind"], dev["id"], dev.get("tenant"))
            if self.jwks is not None and credential.count(".") == 2:
                return self._from_token(credential)
        except AccessRefused:
            raise
        except NotRegistered:
            return None  # a credential for someone no longer in the directory
        return None

    def _from_token(self, token: str) -> Holder | None:
        assert self.jwks is not None
        s = self.settings
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=s.oidc_algorithms,
                audience=s.oidc_audience,
                issuer=s.oidc_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            log.info("bearer token refused: %s", type(exc).__name__)
            return None
        roles = claims.get(s.oidc_roles_claim) or []
        roles = [roles] if isinstance(roles, str) else list(roles)
        kind = next((k for k in ("admin", "supervisor", "agent", "service") if k in roles), None)
        if kind is None:
            contact = self.directory.contact_by_email(str(claims.get(s.oidc_email_claim, "")))
            if contact is None or "customer" not in roles:
                return None
            return self.directory.resolve("customer", contact.contact_id, contact.tenant)
        return self.directory.resolve(kind, str(claims["sub"]))


POLICY_NAME = "per-principal"


def rate_limit_headers(limit: RateLimitItem, remaining: int, reset: int) -> dict[str, str]:
    """The principal's standing as ``RateLimit-Policy`` and ``RateLimit`` fields.

    The structured-field form of draft-ietf-httpapi-ratelimit-headers-08 to -11 (current):
    ``RateLimit-Policy: "per-principal";q=600;w=60`` (a quota of 600 in a 60 s window) and
    ``RateLimit: "per-principal";r=598;t=42`` (598 left; 42 s until the window frees one).
    The older ``limit=, remaining=, reset=`` lists of drafts up to -07 are not sent: the
    field names are the same, so sending both forms would be ambiguous to a client.
    """
    window = int(limit.get_expiry())
    return {
        "RateLimit-Policy": f'"{POLICY_NAME}";q={limit.amount};w={window}',
        "RateLimit": f'"{POLICY_NAME}";r={remaining};t={reset}',
    }


class RateLimitHeaders:
    """Adds the ``RateLimit`` fields of the authenticated principal to every answer.

    Authentication runs in a dependency, which cannot reach error answers (a 404, a 409 or
    the 429 are built by exception handlers), so the dependency leaves the fields in the
    request's state and this middleware adds them to whatever is finally sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_limits(message: Message) -> None:
            headers: dict[str, str] | None = state.get("rate_limit")
            if message["type"] == "http.response.start" and headers:
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw += [
                    (name.lower().encode(), value.encode())
                    for name, value in headers.items()
                    if name.lower().encode() not in present
                ]
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_limits)


def current_principal(request: Request) -> Principal:
    authenticate: Authenticator = request.app.state.authenticator
    return authenticate(request)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
