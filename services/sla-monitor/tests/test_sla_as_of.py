"""The JSON ticket view as of a past instant: the clocks replayed from the events stored up to
that instant, labelled with the position used (``now`` and ``ticket_version``)."""

from __future__ import annotations

import test_sla_api
from test_sla_api import AGENT, Desk

desk = test_sla_api.desk  # the read API tests' desk, as a fixture of this module


def test_a_late_answer_is_still_unanswered_and_on_time_as_of_before_it(desk: Desk) -> None:
    before = desk.get(f"/v1/sla/tickets/{desk.late}", as_of="2026-11-23T10:30:00-06:00")
    first = {c["metric"]: c for c in before["clocks"]}["first_response"]
    assert before["ticket_version"] == 1
    assert before["now"]["local"] == "2026-11-23T10:30:00-06:00"
    assert (first["status"], first["used_seconds"], first["late"]) == ("running", 1800, False)

    after = desk.get(f"/v1/sla/tickets/{desk.late}", as_of="2026-11-23T12:00:00-06:00")
    first = {c["metric"]: c for c in after["clocks"]}["first_response"]
    assert after["ticket_version"] == 2 and (first["status"], first["late"]) == ("met", True)


def test_as_of_before_a_ticket_existed_is_not_found_and_needs_a_zone(desk: Desk) -> None:
    ref = f"/v1/sla/tickets/{desk.late}"
    early = desk.client.get(ref, headers=AGENT, params={"as_of": "2026-01-01T00:00:00Z"})
    assert early.status_code == 404
    naive = desk.client.get(ref, headers=AGENT, params={"as_of": "2026-11-23T10:30:00"})
    assert naive.status_code == 422
