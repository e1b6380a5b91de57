"""Who may do what: the directory, API keys, OIDC tokens, tenants' walls and rate limits.

Told as an administrator sets up a new customer: the organization, its contact, a contracted
space and a key; then what happens as keys are revoked, tenants deactivated and tokens rotate.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from receivers import HttpReceiver

from conftest import (
    ADMIN,
    AGENT,
    CUSTOMER,
    GLOBEX_AGENT,
    OTHER_CUSTOMER,
    Api,
    is_problem,
    running_api,
)

BITAM = {
    "policy": "bitam",
    "title": "Reporte vacío",
    "description": "El reporte sale vacío",
    "ticket_type": "soporte",
    "priority": "media",
    "product": "ebavel",
    "product_version": "6.6",
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def set_up_initech(api: Api) -> dict[str, str]:
    """An admin registers Initech, its contact Marta and Marta's key; returns the key."""
    c = api.client
    assert (
        c.post(
            "/v1/tenants", json={"slug": "initech", "name": "Initech"}, headers=ADMIN
        ).status_code
        == 201
    )
    marta = {"id": "marta", "name": "Marta Paz", "email": "marta@initech.example"}
    assert c.post("/v1/tenants/initech/contacts", json=marta, headers=ADMIN).status_code == 201
    issued = c.post(
        "/v1/api-keys",
        json={"holder": {"kind": "customer", "id": "marta", "tenant": "initech"}, "label": "Marta"},
        headers=ADMIN,
    )
    assert issued.status_code == 201, issued.text
    return issued.json()


def test_a_registered_contact_opens_tickets_with_the_key_shown_to_the_admin_once(
    api: Api,
) -> None:
    issued = set_up_initech(api)
    key = issued["key"]
    opened = api.client.post("/v1/tickets", json=BITAM, headers=bearer(key))
    assert opened.status_code == 201, opened.text
    assert opened.json()["tenant"] == "initech"
    assert opened.json()["contact"]["email"] == "marta@initech.example"
    # Never shown again, and never stored: only its hash is in the event store.
    again = api.client.get(f"/v1/api-keys/{issued['key_id']}", headers=ADMIN).json()
    assert "key" not in again and again["holder"]["id"] == "marta"
    secret = key.split("_", 2)[2]  # sdk_<key id>_<secret>; the secret may hold "_" itself
    stored = [n.state for n in api.desk.recorder.select_notifications(start=1, limit=10_000)]
    assert not any(secret.encode() in state for state in stored)
    # Revoked: it stops working at once.
    assert api.client.delete(f"/v1/api-keys/{issued['key_id']}", headers=ADMIN).json()["revoked"]
    refused = api.client.post("/v1/tickets", json=BITAM, headers=bearer(key))
    assert is_problem(refused, 401)


def test_an_inactive_tenant_or_contact_cannot_ask_for_support(api: Api) -> None:
    key = set_up_initech(api)["key"]
    off = {"active": False, "reason": "contrato vencido"}
    assert api.client.patch("/v1/tenants/initech", json=off, headers=ADMIN).status_code == 200
    refused = api.client.post("/v1/tickets", json=BITAM, headers=bearer(key))
    assert is_problem(refused, 403) and refused.json()["code"] == "tenant-inactive"
    assert "Initech" in refused.json()["detail"]
    api.client.patch("/v1/tenants/initech", json={"active": True}, headers=ADMIN)
    api.client.patch("/v1/tenants/initech/contacts/marta", json=off, headers=ADMIN)
    refused = api.client.post("/v1/tickets", json=BITAM, headers=bearer(key))
    assert is_problem(refused, 403) and refused.json()["code"] == "contact-inactive"
    # Staff cannot open on her behalf either.
    on_behalf = {**BITAM, "tenant": "initech", "contact": "marta"}
    refused = api.client.post("/v1/tickets", json=on_behalf, headers=AGENT)
    assert is_problem(refused, 403) and refused.json()["code"] == "contact-inactive"


def test_only_a_spaces_authorized_contact_opens_tickets_for_it(api: Api) -> None:
    # 000: "un contacto de soporte por cada espacio en la nube contratado".
    set_up_initech(api)
    c = api.client
    luis = {"id": "luis", "name": "Luis Ríos", "email": "luis@initech.example"}
    c.post("/v1/tenants/initech/contacts", json=luis, headers=ADMIN)
    space = {"name": "Nube producción", "contact": "marta"}
    assert c.put("/v1/tenants/initech/spaces/prod", json=space, headers=ADMIN).status_code == 200
    as_luis = {**BITAM, "tenant": "initech", "contact": "luis"}
    refused = c.post("/v1/tickets", json=as_luis, headers=AGENT)
    assert is_problem(refused, 403) and refused.json()["code"] == "not-the-space-contact"
    as_marta = {**as_luis, "contact": "marta", "space": "prod"}
    opened = c.post("/v1/tickets", json=as_marta, headers=AGENT)
    assert opened.status_code == 201 and opened.json()["space"] == "prod"
    assert c.get("/v1/tenants/initech/contacts/marta", headers=AGENT).json()["spaces"] == ["prod"]


def test_a_tenant_opens_tickets_only_under_the_policies_it_contracted(api: Api) -> None:
    set_up_initech(api)
    api.client.patch("/v1/tenants/initech", json={"policies": ["btw"]}, headers=ADMIN)
    refused = api.client.post(
        "/v1/tickets", json={**BITAM, "tenant": "initech", "contact": "marta"}, headers=AGENT
    )
    assert is_problem(refused, 403) and refused.json()["code"] == "policy-not-contracted"


def test_an_agent_sees_only_the_tenants_they_serve(api: Api) -> None:
    acme = api.open()  # Ana, of acme
    bob = api.client.post("/v1/tickets", json=BITAM, headers=OTHER_CUSTOMER).json()  # globex
    listed = api.client.get("/v1/tickets", headers=GLOBEX_AGENT).json()["items"]
    assert [t["id"] for t in listed] == [bob["id"]]
    # Another tenant's ticket is not found (not forbidden: its existence is not disclosed).
    hidden = api.client.get(f"/v1/tickets/{acme['id']}", headers=GLOBEX_AGENT)
    assert is_problem(hidden, 404)
    assert is_problem(
        api.client.get(f"/v1/tickets/{acme['case_number']}", headers=OTHER_CUSTOMER), 404
    )
    refused = api.client.post(
        "/v1/tickets",
        json={**BITAM, "tenant": "acme", "contact": "contact-ana"},
        headers=GLOBEX_AGENT,
    )
    assert is_problem(refused, 403) and refused.json()["code"] == "tenant-not-served"
    tenants = api.client.get("/v1/tenants", headers=GLOBEX_AGENT).json()
    assert [t["slug"] for t in tenants] == ["globex"]


def test_a_contact_email_belongs_to_one_contact_only(api: Api) -> None:
    set_up_initech(api)
    twin = {"id": "marta2", "name": "Marta", "email": "MARTA@initech.example"}
    taken = api.client.post("/v1/tenants/acme/contacts", json=twin, headers=ADMIN)
    assert is_problem(taken, 409) and taken.json()["code"] == "email-taken"


# -- OIDC ----------------------------------------------------------------------------------


class Issuer:
    """An OIDC issuer's signing keys, published as a JWKS by a real local HTTP server."""

    def __init__(self) -> None:
        self.server = HttpReceiver()
        self.keys: dict[str, Any] = {}
        self.rotate("k1")

    def rotate(self, kid: str) -> None:
        self.keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        jwks = []
        for name, key in self.keys.items():
            public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            jwks.append({**public, "kid": name, "use": "sig", "alg": "RS256"})
        self.server.documents["/jwks.json"] = {"keys": jwks}

    def token(self, **claims: Any) -> str:
        kid, key = next(iter(self.keys.items()))
        now = int(time.time())
        body = {"iss": "https://id.desk.example", "aud": "ticket-api", "iat": now, "exp": now + 300}
        return jwt.encode({**body, **claims}, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def oidc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Api, Issuer]]:
    issuer = Issuer()
    try:
        for api in running_api(
            request,
            tmp_path,
            "sqlite",
            oidc_issuer="https://id.desk.example",
            oidc_audience="ticket-api",
            oidc_jwks_url=f"{issuer.server.url}/jwks.json",
            oidc_jwks_refresh_cooldown_seconds=0,
        ):
            yield api, issuer
    finally:
        issuer.server.stop()


def test_oidc_tokens_name_a_registered_contact_or_staff_member(oidc: tuple[Api, Issuer]) -> None:
    api, issuer = oidc
    customer = issuer.token(sub="u-1", email="ana@acme.example", roles=["customer"])
    opened = api.client.post("/v1/tickets", json=BITAM, headers=bearer(customer))
    assert opened.status_code == 201, opened.text
    assert opened.json()["tenant"] == "acme"
    agent = issuer.token(sub="agent-pablo", roles=["agent"])
    assert api.client.get("/v1/tickets", headers=bearer(agent)).json()["items"] == []  # globex
    stranger = issuer.token(sub="u-2", email="nobody@else.example", roles=["customer"])
    assert is_problem(api.client.get("/v1/tickets", headers=bearer(stranger)), 401)


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-api"},
        {"iss": "https://evil.example"},
        {"exp": int(time.time()) - 60},
    ],
    ids=["wrong audience", "wrong issuer", "expired"],
)
def test_a_token_for_someone_else_or_out_of_date_is_refused(
    oidc: tuple[Api, Issuer], claims: dict[str, Any]
) -> None:
    api, issuer = oidc
    token = issuer.token(sub="agent-lucia", roles=["agent"], **claims)
    assert is_problem(api.client.get("/v1/tickets", headers=bearer(token)), 401)


def test_a_rotated_signing_key_is_fetched_and_a_forged_one_refused(
    oidc: tuple[Api, Issuer],
) -> None:
    api, issuer = oidc
    first = issuer.token(sub="agent-lucia", roles=["agent"])
    assert api.client.get("/v1/tickets", headers=bearer(first)).status_code == 200
    issuer.rotate("k2")  # the issuer publishes a new key and signs with it
    second = issuer.token(sub="agent-lucia", roles=["agent"])
    assert api.client.get("/v1/tickets", headers=bearer(second)).status_code == 200
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        jwt.decode(second, options={"verify_signature": False}),
        forger,
        algorithm="RS256",
        headers={"kid": "k2"},
    )
    assert is_problem(api.client.get("/v1/tickets", headers=bearer(forged)), 401)


# -- limits --------------------------------------------------------------------------------


def test_each_principal_is_rate_limited_and_told_when_to_retry(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for api in running_api(request, tmp_path, "sqlite", rate_limit="5/minute"):
        answers = [api.client.get("/v1/tickets", headers=AGENT).status_code for _ in range(6)]
        assert answers == [200] * 5 + [429]
        limited = api.client.get("/v1/tickets", headers=AGENT)
        assert is_problem(limited, 429) and int(limited.headers["Retry-After"]) > 0
        # Another principal has its own allowance.
        assert api.client.get("/v1/tickets", headers=CUSTOMER).status_code == 200


def test_every_authenticated_answer_tells_the_principal_its_rate_limit(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for api in running_api(request, tmp_path, "sqlite", rate_limit="3/minute"):
        answers = [api.client.get("/v1/tickets", headers=AGENT) for _ in range(2)]
        missing = api.client.get("/v1/tickets/BIT-999999", headers=AGENT)  # an error answer
        limited = api.client.get("/v1/tickets", headers=AGENT)
        for answer in (*answers, missing, limited):
            assert answer.headers["RateLimit-Policy"] == '"per-principal";q=3;w=60'
        remaining = [a.headers["RateLimit"].split(";")[1] for a in (*answers, missing, limited)]
        assert remaining == ["r=2", "r=1", "r=0", "r=0"]
        assert missing.status_code == 404
        reset = int(limited.headers["RateLimit"].split(";t=")[1])
        assert 0 < reset <= 60 and limited.headers["Retry-After"] == str(reset)
        # Unauthenticated answers say nothing about anyone's allowance.
        anonymous = api.client.get("/v1/tickets")
        assert anonymous.status_code == 401 and "RateLimit" not in anonymous.headers


def test_the_429_problem_has_a_title_in_the_clients_language(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for api in running_api(request, tmp_path, "sqlite", rate_limit="1/minute"):
        api.client.get("/v1/tickets", headers=AGENT)
        spanish = api.client.get("/v1/tickets", headers=AGENT)
        english = api.client.get("/v1/tickets", headers={**AGENT, "Accept-Language": "en"})
        assert is_problem(spanish, 429) and spanish.json()["title"] == "Demasiadas solicitudes"
        assert is_problem(english, 429) and english.json()["title"] == "Too many requests"


def test_repeating_a_refused_key_is_slowed_down(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for api in running_api(request, tmp_path, "sqlite", failed_auth_rate_limit="3/minute"):
        dead = bearer("sdk_000000000000_revoked")
        guesses = [api.client.get("/v1/tickets", headers=dead).status_code for _ in range(4)]
        assert guesses == [401, 401, 401, 429]
        assert is_problem(api.client.get("/v1/tickets", headers=dead), 429)


def test_bad_keys_from_an_address_never_lock_out_a_valid_key_from_it(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Anyone behind a customer's NAT sending 30 bad keys must not shut the customer out."""
    for api in running_api(request, tmp_path, "sqlite", failed_auth_rate_limit="30/minute"):
        bad = [
            api.client.get("/v1/tickets", headers=bearer(f"sdk_{i:012x}_guess")).status_code
            for i in range(30)
        ]
        assert set(bad) == {401}
        for _ in range(31):
            api.client.get("/v1/tickets", headers=bearer("sdk_000000000000_guess"))
        # The same address (the test client's) presenting the customer's key is served.
        assert api.client.get("/v1/tickets", headers=CUSTOMER).status_code == 200
        assert api.client.get("/v1/tickets", headers={"X-API-Key": "dev-customer"}).is_success
