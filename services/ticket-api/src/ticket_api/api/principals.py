"""Who is calling: every endpoint receives the acting principal through one dependency.

Until real authentication (API keys stored hashed, OIDC) arrives, a development key per role
is configured (``TICKET_API_DEV_KEYS``) and sent as ``Authorization: Bearer <key>`` or
``X-API-Key``. The principal is recorded on every event the request causes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from ticket_api.api.problems import Problem

STAFF = {"agent", "supervisor", "admin"}


@dataclass(frozen=True)
class Principal:
    kind: str
    id: str
    name: str | None = None
    tenant: str | None = None
    email: str | None = None
    locale: str = "es"

    @property
    def actor(self) -> dict[str, Any]:
        """As recorded on events (``contracts.events.Actor``)."""
        return {"kind": self.kind, "id": self.id, "name": self.name}

    @property
    def is_customer(self) -> bool:
        return self.kind == "customer"

    def may_see(self, tenant: str) -> bool:
        """Customers see their own tenant only; staff and services see all (for now)."""
        return not self.is_customer or self.tenant == tenant

    def require(self, *kinds: str, doing: str) -> None:
        if self.kind not in kinds:
            raise Problem(
                403,
                "not-allowed",
                en=f"A {self.kind} cannot {doing}.",
                es=f"Un usuario de tipo {self.kind} no puede realizar: {doing}.",
            )


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else None
    key = key or request.headers.get("x-api-key")
    keys: dict[str, dict[str, str]] = request.app.state.settings.dev_keys
    if not key or key not in keys:
        raise Problem(
            401,
            "not-authenticated",
            en="Send an API key: 'Authorization: Bearer <key>' (see the README).",
            es="Envíe una clave de API: 'Authorization: Bearer <clave>' (vea el README).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Principal(**keys[key])


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
