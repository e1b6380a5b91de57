"""A policy change tried on constructed histories: the same policy changes nothing; a shorter
P2 resolution target turns exactly the tickets a hand check predicts into breaches (pure).

IKHODI's desk (001) is open Monday to Friday 08:00–17:00 Guatemala; P2's resolution target is
8 business hours, P3's 24. The candidate cuts P2's resolution to 4 business hours.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from contracts.events import Actor, ActorKind, EventPayload
from contracts.events import ticket as te
from contracts.policy import SupportPolicy, load_policies
from simulator.whatif import what_if

POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"
LIVE = load_policies(POLICIES_DIR)
GT = ZoneInfo("America/Guatemala")
AGENT = Actor(kind=ActorKind.AGENT, id="agent-pedro", name="Pedro")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="contact-ana")
MONDAY = datetime(2026, 11, 23, 9, tzinfo=GT)
END = datetime(2026, 11, 30, tzinfo=GT)


def candidate(resolution: str) -> SupportPolicy:
    data = yaml.safe_load((POLICIES_DIR / "001-ikhodi.yaml").read_text())
    p2 = next(p for p in data["priorities"] if p["id"] == "p2")
    p2["targets"]["resolution"] = {"within": resolution}
    return SupportPolicy.model_validate(data)


def history(case: str, priority: str, resolved_after: timedelta) -> list[dict[str, Any]]:
    """Opened Monday 09:00, answered after 10 minutes, resolved ``resolved_after`` later
    (all inside Monday's office hours, so business time = elapsed time)."""
    story: list[tuple[EventPayload, datetime]] = [
        (
            te.Opened(
                actor=CUSTOMER,
                case_number=case,
                title=f"Caso {case}",
                description="x",
                ticket_type="problemas-basicos",
                priority=priority,
                contact=te.Contact(id="contact-ana", name="Ana", email="ana@acme.example"),
            ),
            MONDAY,
        ),
        (
            te.AgentReplied(actor=AGENT, body="Revisando", public=True),
            MONDAY + timedelta(minutes=10),
        ),
        (
            te.Resolved(actor=AGENT, resolution=te.ResolutionKind.SOLUTION, summary="listo"),
            MONDAY + resolved_after,
        ),
    ]
    return [
        {
            "version": v,
            "name": e.event_name,
            "payload": json.dumps(e.model_dump(mode="json")),
            "at": at,
            "policy": "ikhodi",
            "tenant": "acme",
        }
        for v, (e, at) in enumerate(story, start=1)
    ]


HISTORIES = {
    "a": history("IKH-000001", "p2", timedelta(hours=3)),  # within 4 h: met either way
    "b": history("IKH-000002", "p2", timedelta(hours=5)),  # 5 h: met now, breached at 4 h
    "c": history("IKH-000003", "p2", timedelta(hours=7, minutes=30)),  # breached at 4 h
    "d": history("IKH-000004", "p3", timedelta(hours=5)),  # P3: untouched by the change
    "e": history("IKH-000005", "p2", timedelta(hours=4)),  # exactly at the target: met
}


def test_the_live_policy_as_candidate_changes_nothing() -> None:
    result = what_if(LIVE, LIVE["ikhodi"], HISTORIES, END)
    assert result.tickets == 5
    assert result.changes == []
    assert result.before == result.after


def test_a_shorter_p2_resolution_target_breaches_exactly_the_tickets_over_it() -> None:
    result = what_if(LIVE, candidate("4h"), HISTORIES, END)
    assert sorted(c.case_number for c in result.changes) == ["IKH-000002", "IKH-000003"]
    for change in result.changes:
        assert change.changed == {"resolution #1": ("met", "breached")}
        assert "Resolution" in change.receipt_before and "Resolution" in change.receipt_after
    assert result.compliance(result.before, "p2") == 1.0
    assert result.compliance(result.after, "p2") == 6 / 8  # 4 first responses + 2 of 4 resolutions
    assert result.compliance(result.after, "p3") == 1.0


def test_the_readmes_example_candidate_is_that_shorter_p2_target() -> None:
    # docs/examples/ikhodi-p2-4h.yaml is what the README's `make whatif` line tries.
    example = load_policies(POLICIES_DIR.parent / "docs" / "examples")["ikhodi"]
    assert example.model_dump() == candidate("4h").model_dump()
    result = what_if(LIVE, example, HISTORIES, END)
    assert sorted(c.case_number for c in result.changes) == ["IKH-000002", "IKH-000003"]
