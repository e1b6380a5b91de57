"""Past its capacity ticket-api refuses fast, with a problem and ``Retry-After``, and keeps
serving what it admitted; health stays answerable (ADR 15).

Requests are held inside the app by a gate the test opens, so "at capacity" is a state the test
sets up, not a race it hopes to win.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import CUSTOMER, Api, is_problem, running_api
from ticket_api.api.admission import AdmissionLimit
from ticket_api.application import TicketDesk

QUEUE_TIMEOUT = 0.1
FAST_SECONDS = 1.0


@pytest.fixture
def small_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The app admitting two requests at once."""
    yield from running_api(
        request, tmp_path, "sqlite", max_concurrent_requests=2, queue_timeout_seconds=QUEUE_TIMEOUT
    )


@pytest.fixture
def patient_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """Two at once, and a third may wait long for a place."""
    yield from running_api(
        request, tmp_path, "sqlite", max_concurrent_requests=2, queue_timeout_seconds=30
    )


def admission_of(api: Api) -> AdmissionLimit:
    layer: Any = api.client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(layer, AdmissionLimit):
        layer = layer.app
    return layer


class Gate:
    """Holds every read of a ticket until opened; counts who is waiting at it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.arrived = threading.Semaphore(0)
        self.opened = threading.Event()
        read = TicketDesk.ticket

        def held(desk: TicketDesk, *args: Any, **kwargs: Any) -> Any:
            self.arrived.release()
            assert self.opened.wait(10)
            return read(desk, *args, **kwargs)

        monkeypatch.setattr(TicketDesk, "ticket", held)

    def wait_for(self, count: int) -> None:
        for _ in range(count):
            assert self.arrived.acquire(timeout=10)


def test_requests_beyond_capacity_are_refused_fast_with_retry_after(
    small_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = small_api
    ticket = api.open()
    gate = Gate(monkeypatch)
    statuses: list[int] = []

    def read() -> None:
        response = api.client.get(f"/v1/tickets/{ticket['id']}", headers=CUSTOMER)
        statuses.append(response.status_code)

    admitted = [threading.Thread(target=read) for _ in range(2)]
    for thread in admitted:
        thread.start()
    gate.wait_for(2)  # both places are taken

    began = time.monotonic()
    refused = api.client.get(
        f"/v1/tickets/{ticket['id']}", headers={**CUSTOMER, "Accept-Language": "en"}
    )
    assert time.monotonic() - began < FAST_SECONDS
    assert is_problem(refused, 503) and refused.json()["code"] == "overloaded"
    assert refused.headers["retry-after"] == "1"
    assert "capacity" in refused.json()["detail"]
    spanish = api.client.post("/v1/tickets", json={}, headers=CUSTOMER)
    assert is_problem(spanish, 503) and "límite" in spanish.json()["detail"]
    # an orchestrator still sees the replica alive and ready, an operator still sees metrics
    assert api.client.get("/healthz").status_code == 200
    assert api.client.get("/readyz").status_code == 200
    assert api.client.get("/metrics").status_code == 200

    gate.opened.set()
    for thread in admitted:
        thread.join()
    assert statuses == [200, 200]  # what was admitted was served
    assert api.client.get(f"/v1/tickets/{ticket['id']}", headers=CUSTOMER).status_code == 200


def test_a_request_that_finds_a_place_within_the_queue_wait_is_served(
    patient_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = patient_api
    ticket = api.open()
    gate = Gate(monkeypatch)
    statuses: list[int] = []

    def read() -> None:
        response = api.client.get(f"/v1/tickets/{ticket['id']}", headers=CUSTOMER)
        statuses.append(response.status_code)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    gate.wait_for(2)  # two admitted and held; the third is queued for a place
    admission, deadline = admission_of(api), time.monotonic() + 10
    while admission.waiting < 1:
        assert time.monotonic() < deadline
    gate.opened.set()
    for thread in readers:
        thread.join()
    assert statuses == [200, 200, 200]
