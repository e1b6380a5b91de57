"""The simulated desks' people, registered the way an administrator would.

Only registered contacts of active organizations may open tickets and only registered agents
may be assigned (000, 004), so before any traffic the simulator registers, through the admin
API, a few organizations per desk (each limited to its policy), two contacts each (their
mail addresses are what the SMTP intake recognises), the desk's agents (serving just those
organizations), and an API key for every contact and agent. Registering again is harmless:
what exists is kept (409), and fresh keys are issued for this run.
"""

from __future__ import annotations

from typing import Any

from simulator.driver import Customer, Port
from simulator.scenario import DESKS, Agent, team


class SetupFailed(RuntimeError):
    """The admin API refused to register what the simulation needs."""


def _ensure(port: Port, admin: str, path: str, body: dict[str, Any]) -> None:
    status, answer = port.call("POST", path, admin, body)
    if status not in (200, 201, 409):
        raise SetupFailed(f"POST {path}: {status} {answer}")


def _key(port: Port, admin: str, holder: dict[str, str], label: str) -> str:
    status, answer = port.call("POST", "/v1/api-keys", admin, {"holder": holder, "label": label})
    if status != 201:
        raise SetupFailed(f"POST /v1/api-keys for {holder}: {status} {answer}")
    return str(answer["key"])


def register(
    port: Port, admin: str, load: float, run: str
) -> tuple[dict[str, list[list[Customer]]], dict[str, list[Agent]], dict[str, str]]:
    """Customers per desk and organization, agents per desk, and each agent's key."""
    customers: dict[str, list[list[Customer]]] = {}
    agents: dict[str, list[Agent]] = {}
    keys: dict[str, str] = {}
    for desk in DESKS:
        tenants = [f"sim-{desk.policy}-{i}" for i in range(1, desk.tenants + 1)]
        customers[desk.policy] = []
        for slug in tenants:
            _ensure(
                port,
                admin,
                "/v1/tenants",
                {"slug": slug, "name": f"Cliente {slug}", "policies": [desk.policy]},
            )
            people = []
            for c in ("c1", "c2"):
                email = f"{c}@{slug}.example"
                name = f"Contacto {c.upper()} {slug}"
                _ensure(
                    port,
                    admin,
                    f"/v1/tenants/{slug}/contacts",
                    {"id": c, "name": name, "email": email, "locale": "es"},
                )
                key = _key(port, admin, {"kind": "customer", "id": c, "tenant": slug}, run)
                people.append(Customer(slug, c, name, email, key))
            customers[desk.policy].append(people)
        agents[desk.policy] = team(desk, load)
        for agent in agents[desk.policy]:
            _ensure(
                port,
                admin,
                "/v1/staff",
                {
                    "id": agent.id,
                    "role": "agent",
                    "name": agent.name,
                    "email": f"{agent.id}@desk.example",
                    "tenants": tenants,
                },
            )
            keys[agent.id] = _key(port, admin, {"kind": "agent", "id": agent.id}, run)
    return customers, agents, keys
