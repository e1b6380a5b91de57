"""ticket-api's introspection endpoint, faked for one service's own tests.

sla-monitor's and the notifier's tests exercise their queries, not the directory: they resolve
callers through ``servicekit.web.Introspection`` exactly as in production, but over an
in-memory transport that answers ``GET /v1/principal`` the way ticket-api does for the
README's development keys (``DEV_DIRECTORY``). The cross-service tests (tests/faults, e2e) use
the real ticket-api instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx2

from servicekit.web import Introspection, PrincipalInfo

DEV_DIRECTORY: dict[str, PrincipalInfo] = {
    "dev-customer": PrincipalInfo(
        kind="customer", id="contact-ana", name="Ana Ruiz", tenant="acme", tenants=["acme"]
    ),
    "dev-agent": PrincipalInfo(
        kind="agent", id="agent-lucia", name="Lucía Gómez", all_tenants=True
    ),
    "dev-supervisor": PrincipalInfo(
        kind="supervisor", id="sup-marco", name="Marco Díaz", all_tenants=True
    ),
    "dev-service": PrincipalInfo(kind="service", id="sla-monitor", all_tenants=True),
}
"""What ticket-api's development directory answers for each development key."""


def fake_ticket_api(directory: Mapping[str, PrincipalInfo]) -> httpx2.MockTransport:
    """A transport answering introspection for ``directory``'s keys, 401 for any other."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/principal"
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else None
        info = directory.get(key or request.headers.get("x-api-key") or "")
        if info is None:
            return httpx2.Response(
                401,
                json={"status": 401, "code": "not-authenticated", "detail": "Send a valid key."},
                headers={"WWW-Authenticate": "Bearer"},
            )
        return httpx2.Response(200, json=info.model_dump(mode="json"))

    return httpx2.MockTransport(handle)


def dev_introspection(directory: Mapping[str, PrincipalInfo] = DEV_DIRECTORY) -> Introspection:
    """Resolves the development keys as ticket-api in dev mode would, without caching."""
    return Introspection("http://ticket-api.test", ttl=0, transport=fake_ticket_api(directory))
