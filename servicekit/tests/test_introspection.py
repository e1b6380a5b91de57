"""The read services' view of a caller: ticket-api's introspection answer, cached briefly.

``Introspection`` runs here over an in-memory transport standing in for ticket-api, whose
answers each test changes (a key revoked, the server gone); time is a counter the test moves,
so "within the cache's time" is exact and nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx2
import pytest

from servicekit.web import ALL_TENANTS, Introspection, Principal, PrincipalInfo, Problem

T = TypeVar("T")
AGENT_OF_ALFA = PrincipalInfo(kind="agent", id="agent-alfa", name="Alba", tenants=["alfa"])
KEY = {"authorization": "Bearer sdk_k1_secret"}


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


class FakeTicketApi:
    """Answers ``GET /v1/principal`` from ``answers`` (credential → response or error)."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {"Bearer sdk_k1_secret": AGENT_OF_ALFA}
        self.seen: list[httpx2.Request] = []
        self.now = 1000.0

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request)
        credential = request.headers.get("authorization") or request.headers.get("x-api-key")
        answer = self.answers.get(credential or "", 401)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, PrincipalInfo):
            return httpx2.Response(200, json=answer.model_dump(mode="json"))
        if isinstance(answer, httpx2.Response):
            return answer
        detail = {"en": "Send a valid key.", "es": "Envíe una clave válida."}[
            request.headers["accept-language"]
        ]
        return httpx2.Response(
            answer,
            json={"status": answer, "code": "not-authenticated", "detail": detail},
            headers={"WWW-Authenticate": "Bearer"},
        )

    def introspection(self, **options: Any) -> Introspection:
        return Introspection(
            "http://ticket-api.test",
            transport=httpx2.MockTransport(self.handle),
            monotonic=lambda: self.now,
            **options,
        )


@pytest.fixture
def ticket_api() -> FakeTicketApi:
    return FakeTicketApi()


def refusal(introspection: Introspection, headers: dict[str, str]) -> Problem:
    with pytest.raises(Problem) as refused:
        run(introspection.resolve(headers))
    return refused.value


def test_an_agent_sees_the_tenants_ticket_api_says_they_serve(ticket_api: FakeTicketApi) -> None:
    agent = run(ticket_api.introspection().resolve(KEY))
    assert agent == Principal("agent", "agent-alfa", "Alba", None, ("alfa",))
    assert agent.may_see("alfa") and not agent.may_see("beta") and not agent.sees_all
    assert (
        agent.scope(None) == ["alfa"]
        and agent.scope("beta") == []
        and agent.scope("alfa") == ["alfa"]
    )


def test_the_callers_own_credential_is_forwarded_and_nothing_else(
    ticket_api: FakeTicketApi,
) -> None:
    ticket_api.answers["sdk_k2_other"] = AGENT_OF_ALFA
    introspection = ticket_api.introspection()
    run(introspection.resolve({"x-api-key": "sdk_k2_other", "cookie": "session=1"}))
    [request] = ticket_api.seen
    assert request.url.path == "/v1/principal" and request.headers["x-api-key"] == "sdk_k2_other"
    assert "cookie" not in request.headers and "authorization" not in request.headers


def test_answers_are_reused_within_the_ttl_so_a_revoked_key_is_shut_out_after_it(
    ticket_api: FakeTicketApi,
) -> None:
    introspection = ticket_api.introspection(ttl=5.0)
    for _ in range(3):
        run(introspection.resolve(KEY))
    assert introspection.calls == 1  # a burst of reads costs one call

    del ticket_api.answers["Bearer sdk_k1_secret"]  # an admin revokes the key
    ticket_api.now += 4.9
    assert run(introspection.resolve(KEY)).id == "agent-alfa"  # still within the TTL
    ticket_api.now += 0.2
    refused = refusal(introspection, KEY)
    assert (refused.status, refused.code) == (401, "not-authenticated")
    assert introspection.calls == 2


def test_a_refusal_is_passed_on_as_the_same_problem_in_the_callers_language(
    ticket_api: FakeTicketApi,
) -> None:
    introspection = ticket_api.introspection()
    bad = {"authorization": "Bearer sdk_nope_x"}
    spanish = refusal(introspection, bad)
    english = refusal(introspection, {**bad, "accept-language": "en-US"})
    assert (spanish.status, spanish.code, spanish.es) == (
        401,
        "not-authenticated",
        "Envíe una clave válida.",
    )
    assert english.en == "Send a valid key." and english.headers == {"WWW-Authenticate": "Bearer"}
    refusal(introspection, bad)
    assert introspection.calls == 2  # refusals are cached too (per language)

    ticket_api.answers["Bearer sdk_gone_x"] = httpx2.Response(
        403,
        json={"code": "contact-inactive", "detail": "Este contacto ya no está autorizado."},
    )
    inactive = refusal(introspection, {"authorization": "Bearer sdk_gone_x"})
    assert (inactive.status, inactive.code) == (403, "contact-inactive")


def test_without_a_credential_it_is_401_without_asking_ticket_api(
    ticket_api: FakeTicketApi,
) -> None:
    introspection = ticket_api.introspection()
    refused = refusal(introspection, {"accept-language": "en"})
    assert (refused.status, refused.code) == (401, "not-authenticated")
    assert introspection.calls == 0


@pytest.mark.parametrize(
    "failure",
    [
        httpx2.ConnectError("connection refused"),
        httpx2.ReadTimeout("too slow"),
        httpx2.Response(500, text="boom"),
        httpx2.Response(200, json={"kind": "agent"}),  # no id: not an answer we understand
        httpx2.Response(200, text="<html>a proxy's page</html>"),
    ],
    ids=["down", "slow", "failing", "incomplete", "not-json"],
)
def test_ticket_api_down_or_confused_is_a_503_never_a_default_scope(
    ticket_api: FakeTicketApi, failure: Any
) -> None:
    ticket_api.answers["Bearer sdk_k1_secret"] = failure
    introspection = ticket_api.introspection()
    refused = refusal(introspection, KEY)
    assert (refused.status, refused.code) == (503, "directory-unavailable")
    assert refused.headers["Retry-After"] == "5"
    ticket_api.answers["Bearer sdk_k1_secret"] = AGENT_OF_ALFA  # back: not cached as down
    assert run(introspection.resolve(KEY)).tenants == ("alfa",)


def test_without_a_ticket_api_url_every_credential_is_a_503() -> None:
    refused = refusal(Introspection(None), KEY)
    assert (refused.status, refused.code) == (503, "directory-unavailable")


def test_the_timeout_is_short_and_passed_to_the_client(ticket_api: FakeTicketApi) -> None:
    introspection = ticket_api.introspection()
    assert introspection.timeout <= 2.0
    run(introspection.resolve(KEY))
    assert ticket_api.seen[0].extensions["timeout"]["read"] == introspection.timeout


def test_no_answer_ever_makes_a_principal_see_all_unless_it_says_so() -> None:
    # A customer claiming every tenant still sees only their own.
    customer = Principal.of(
        PrincipalInfo(kind="customer", id="c1", tenant="alfa", tenants=["*"], all_tenants=True)
    )
    assert customer.tenants == ("alfa",) and not customer.sees_all
    assert not customer.may_see("beta")
    # A "*" smuggled into an agent's list is not the all-tenants flag.
    agent = Principal.of(PrincipalInfo(kind="agent", id="a1", tenants=[ALL_TENANTS, "alfa"]))
    assert agent.tenants == ("alfa",) and not agent.sees_all
    # A principal built without a scope sees nothing.
    assert Principal("agent", "a2").scope(None) == [] and not Principal("service", "s").may_see("x")
    supervisor = Principal.of(PrincipalInfo(kind="supervisor", id="s1", all_tenants=True))
    assert supervisor.sees_all and supervisor.scope(None) is None
    assert supervisor.scope("beta") == ["beta"]


def test_a_customer_asking_for_another_tenant_is_refused() -> None:
    customer = Principal.of(PrincipalInfo(kind="customer", id="c1", tenant="alfa"))
    with pytest.raises(Problem) as refused:
        customer.scope("beta")
    assert refused.value.status == 403
    assert customer.scope(None) == ["alfa"] == customer.scope("alfa")


def test_the_cache_is_bounded(ticket_api: FakeTicketApi) -> None:
    for n in range(5):
        ticket_api.answers[f"Bearer sdk_k{n}_s"] = AGENT_OF_ALFA
    introspection = ticket_api.introspection(max_entries=3)
    for n in range(5):
        run(introspection.resolve({"authorization": f"Bearer sdk_k{n}_s"}))
    assert len(introspection._cache) == 3
    run(introspection.resolve({"authorization": "Bearer sdk_k4_s"}))  # the newest stays
    assert introspection.calls == 5
