"""Case numbers: unique, gap-free, written with their ticket, and never a point of contention.

Each open claims its number in the same atomic write as the ticket (ADR 15); these stories show
that many clients at once, two replicas at once, a failed write and data stored by the former
per-policy sequence all keep the numbering whole.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import OperationalError

from conftest import CUSTOMER, POLICIES, T0, Api, running_api
from contracts.policy import load_policies
from ticket_api.application import TicketDesk
from ticket_api.domain.records import CaseNumbers
from ticket_api.domain.ticket import Ticket
from ticket_api.settings import Settings

ANA = {"kind": "customer", "id": "contact-ana", "name": "Ana Ruiz"}
ANA_CONTACT = {"id": "contact-ana", "name": "Ana Ruiz", "email": "ana@acme.example", "locale": "es"}
INTAKE = {
    "nit": "900123456-7",
    "nombre-contacto": "Ana Ruiz",
    "correo-contacto": "ana@acme.example",
    "telefono-contacto": "+57 300 000 0000",
    "evidencia": {"name": "error.png", "media_type": "image/png"},
}
OPEN = {
    "policy": "btw",
    "tenant": "acme",
    "contact": ANA_CONTACT,
    "title": "Error 500 DIAN al enviar facturas",
    "description": "Desde las 9:00 la DIAN responde 500.",
    "ticket_type": "soporte",
    "subcategory": "error-500-dian",
    "by": ANA,
}


@pytest.fixture(params=["sqlite", "postgres"])
def roomy_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The app admitting 32 requests at once, each willing to wait for its turn, so that all
    of them reach the numbering (what is measured is correctness, not the refusal of load)."""
    yield from running_api(
        request,
        tmp_path,
        request.param,
        max_concurrent_requests=32,
        queue_timeout_seconds=5,
        case_number_wait_seconds=30,
    )


def at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; their results, in order."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        start.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def btw(*numbers: int) -> list[str]:
    return [f"BTW-{n:06d}" for n in numbers]


def test_32_concurrent_opens_each_get_a_distinct_gap_free_case_number(roomy_api: Api) -> None:
    api = roomy_api
    opened = at_once(32, lambda _: api.open())
    assert sorted(t["case_number"] for t in opened) == btw(*range(1, 33))
    for ticket in opened:  # and each number leads back to its own ticket
        found = api.client.get(f"/v1/tickets/{ticket['case_number']}", headers=CUSTOMER)
        assert found.json()["id"] == ticket["id"]


def test_the_same_idempotency_key_sent_eight_times_at_once_opens_one_ticket(api: Api) -> None:
    headers = {**CUSTOMER, "Idempotency-Key": "burst-1"}
    opened = at_once(8, lambda _: api.open(headers=headers))
    assert len({t["id"] for t in opened}) == 1
    assert api.open()["case_number"] == "BTW-000002"  # the burst used one number


def test_a_failed_write_leaves_no_gap_in_the_numbering(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.open()
    failing = True
    save = TicketDesk.save

    def save_once_failing(desk: TicketDesk, *objs: Any, **kwargs: Any) -> Any:
        nonlocal failing
        if failing:
            failing = False
            raise OperationalError("the store went away mid-request")
        return save(desk, *objs, **kwargs)

    monkeypatch.setattr(TicketDesk, "save", save_once_failing)
    body = {k: OPEN[k] for k in ("policy", "title", "description", "ticket_type", "subcategory")}
    refused = api.client.post("/v1/tickets", json={**body, "intake": INTAKE}, headers=CUSTOMER)
    assert refused.status_code == 503
    assert api.open()["case_number"] == "BTW-000002"  # the number the failed write tried


def test_two_replicas_opening_at_once_never_share_or_skip_a_number(
    postgres_env: dict[str, str], tmp_path: Any
) -> None:
    settings = Settings(store="postgres", data_dir=tmp_path, policies_dir=POLICIES)
    env = settings.event_store_env(dict(postgres_env))
    policies = load_policies(POLICIES)
    replicas = [TicketDesk(env, policies=policies, case_number_wait=30) for _ in range(2)]
    try:
        # each replica has issued a number, so each believes it knows the next one
        for desk in replicas:
            desk.open_ticket(**OPEN, intake=dict(INTAKE))
        outcomes = at_once(
            24, lambda i: replicas[i % 2].open_ticket(**OPEN, intake=dict(INTAKE)).ticket
        )
        numbers = sorted(t.case_number for t in outcomes)
        assert numbers == btw(*range(3, 27))
        for ticket in outcomes:  # either replica finds each ticket by its number
            assert replicas[0].ticket_id_for_case(ticket.case_number) == ticket.id
            assert replicas[1].ticket_id_for_case(ticket.case_number) == ticket.id
    finally:
        for desk in replicas:
            desk.close()


def test_tickets_numbered_by_the_former_sequence_still_resolve_and_numbering_continues(
    api: Api,
) -> None:
    # Three tickets stored before ADR 15: numbered by the policy's CaseNumbers aggregate.
    legacy: list[Ticket] = []
    numbers: CaseNumbers | None = None
    for n in range(1, 4):
        ticket_id = uuid4()
        if numbers is None:
            numbers = CaseNumbers.start(policy="btw", prefix="BTW", ticket_id=ticket_id)
        else:
            numbers.issue(ticket_id)
        ticket = Ticket.open(
            id=ticket_id,
            by=ANA,
            at=T0,
            case_number=f"BTW-{n:06d}",
            priority="p1",
            product=None,
            product_version=None,
            channel="portal",
            modality=None,
            intake=dict(INTAKE),
            follow_up_of=None,
            feature_request=False,
            **{k: v for k, v in OPEN.items() if k != "by"},
        )
        api.desk.save(ticket, numbers)
        legacy.append(ticket)
    for ticket in legacy:
        found = api.client.get(f"/v1/tickets/{ticket.case_number}", headers=CUSTOMER)
        assert found.status_code == 200 and found.json()["id"] == str(ticket.id)
    assert api.open()["case_number"] == "BTW-000004"
    assert api.client.get("/v1/tickets/BTW-000005", headers=CUSTOMER).status_code == 404
