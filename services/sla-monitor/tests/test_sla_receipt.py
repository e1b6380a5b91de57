"""The receipt of a ticket's clocks, told as a penalty dispute would read it.

BITAM's desk (000) is open Monday to Friday 08:30–18:00 Mexico City, closed on Mexico's
official holidays; its clocks pause while the ticket awaits the customer. Monday 16 November
2026 is the Día de la Revolución.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from contracts.events import Actor, ActorKind, EventPayload
from contracts.events import ticket as te
from contracts.policy import SupportPolicy, load_policies
from contracts.vocabulary import Metric, TicketState
from sla_monitor.clocks import ClockStatus
from sla_monitor.receipt import CycleReceipt, Receipt, build_receipt
from sla_monitor.receipt_lines import Counted, Retarget, Skipped, Why

POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"
POLICIES = load_policies(POLICIES_DIR)
MEXICO = ZoneInfo("America/Mexico_City")
AGENT = Actor(kind=ActorKind.AGENT, id="agent-lucia", name="Lucía")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="contact-ana")
H = timedelta(hours=1)


def mx(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=MEXICO)


def rows(policy: str, story: list[tuple[EventPayload, datetime]]) -> list[dict[str, Any]]:
    """The ticket's events as ``sla_ticket_events`` stores them."""
    return [
        {
            "version": version,
            "name": event.event_name,
            "payload": json.dumps(event.model_dump(mode="json")),
            "at": at,
            "policy": policy,
            "tenant": "acme",
        }
        for version, (event, at) in enumerate(story, start=1)
    ]


def opened(priority: str) -> te.Opened:
    return te.Opened(
        actor=CUSTOMER,
        case_number="BIT-000007",
        contact=te.Contact(id="contact-ana", name="Ana", email="ana@acme.example"),
        title="La factura no timbra",
        description="Error al timbrar",
        ticket_type="soporte",
        priority=priority,
    )


def cycle(receipt: Receipt, metric: Metric, number: int = 1) -> CycleReceipt:
    return next(c for c in receipt.cycles if c.metric is metric and c.cycle == number)


def story_receipt(as_of: datetime) -> Receipt:
    story: list[tuple[EventPayload, datetime]] = [
        (opened("alta"), mx(13, 17)),  # Friday 17:00, an hour before closing
        (
            te.Classified(
                actor=AGENT,
                ticket_type="soporte",
                priority="media",
                previous_ticket_type="soporte",
                previous_priority="alta",
                reason="Hay una solución alterna",
            ),
            mx(17, 9),  # Tuesday 09:00, after the long weekend
        ),
        (te.AgentReplied(actor=AGENT, body="Revisando", public=True), mx(17, 9, 15)),
        (te.AwaitingCustomer(actor=AGENT, request="Envíe el XML de la factura"), mx(17, 11)),
        (te.CustomerReplied(actor=CUSTOMER, body="Adjunto el XML"), mx(18, 10)),
        (
            te.Resolved(actor=AGENT, resolution=te.ResolutionKind.SOLUTION, summary="Timbrado"),
            mx(18, 12),
        ),
    ]
    receipt = build_receipt(POLICIES, rows("bitam", story), as_of)
    assert receipt is not None
    return receipt


def test_the_receipt_of_a_ticket_open_across_a_weekend_a_holiday_and_a_pause_adds_up_to_its_used_time() -> (  # noqa: E501
    None
):
    resolution = cycle(story_receipt(mx(20, 12)), Metric.RESOLUTION)
    # Friday 17:00-18:00 counts (1 h); the evening, the weekend, the holiday and Tuesday's early
    # morning do not; Tuesday 08:30-09:00 counts (0.5 h, 1.5 h kept at the reclassification);
    # 09:00-11:00 counts (2 h) until Lucía asks for the XML; the clock waits until Ana answers
    # on Wednesday at 10:00, then 10:00-12:00 counts (2 h): 1 + 0.5 + 2 + 2 = 5.5 h.
    assert resolution.lines == [
        Counted(mx(13, 17), mx(13, 18)),
        Skipped(mx(13, 18), mx(14, 0), Why.NIGHT),
        Skipped(mx(14, 0), mx(16, 0), Why.WEEKEND),
        Skipped(mx(16, 0), mx(17, 0), Why.HOLIDAY, name="Día de la Revolución"),
        Skipped(mx(17, 0), mx(17, 8, 30), Why.NIGHT),
        Counted(mx(17, 8, 30), mx(17, 9)),
        Retarget(
            at=mx(17, 9),
            from_priority="alta",
            to_priority="media",
            from_target=2 * H,
            to_target=24 * H,
            kept=1.5 * H,
            # 22.5 h still to go from Tuesday 09:00: Tuesday's 9 h, Wednesday's 9.5 h, then
            # Thursday 08:30 + 4 h
            deadline=mx(19, 12, 30),
            reason="Hay una solución alterna",
        ),
        Counted(mx(17, 9), mx(17, 11)),
        Skipped(
            mx(17, 11),
            mx(18, 10),
            Why.PAUSE,
            state=TicketState.AWAITING_CUSTOMER,
            by=AGENT,
            because="Envíe el XML de la factura",
        ),
        Counted(mx(18, 10), mx(18, 12)),
    ]
    assert resolution.total == resolution.used == 5.5 * H
    assert (resolution.status, resolution.met_at, resolution.late) == (
        ClockStatus.MET,
        mx(18, 12),
        False,
    )
    assert resolution.ended_at == mx(18, 12)


def test_the_first_response_receipt_ends_when_it_was_met() -> None:
    first = cycle(story_receipt(mx(20, 12)), Metric.FIRST_RESPONSE)
    # Friday's hour, Tuesday 08:30-09:00 under "alta" and 09:00-09:15 under "media": 1 h 45 min
    counted = [line for line in first.lines if isinstance(line, Counted)]
    assert counted == [
        Counted(mx(13, 17), mx(13, 18)),
        Counted(mx(17, 8, 30), mx(17, 9)),
        Counted(mx(17, 9), mx(17, 9, 15)),
    ]
    assert first.total == first.used == 1.75 * H
    retarget = next(line for line in first.lines if isinstance(line, Retarget))
    assert (retarget.from_target, retarget.to_target, retarget.kept) == (2 * H, 4 * H, 1.5 * H)
    assert first.ended_at == mx(17, 9, 15)


def test_a_clock_still_running_is_explained_up_to_the_instant_asked() -> None:
    story: list[tuple[EventPayload, datetime]] = [(opened("baja"), mx(13, 17))]
    receipt = build_receipt(POLICIES, rows("bitam", story), mx(16, 12))
    assert receipt is not None
    resolution = cycle(receipt, Metric.RESOLUTION)
    assert resolution.status is ClockStatus.RUNNING
    assert resolution.total == resolution.used == H
    assert resolution.ended_at == mx(16, 12)  # Monday noon: still the holiday
    assert isinstance(resolution.lines[-1], Skipped) and resolution.lines[-1].why is Why.HOLIDAY


def with_closure(day: date) -> SupportPolicy:
    """BITAM's policy with one vendor closure day (the seed lists none)."""
    data = yaml.safe_load((POLICIES_DIR / "000-bitam.yaml").read_text())
    data["calendars"]["oficina-mexico"]["holidays"]["closures"] = [day.isoformat()]
    return SupportPolicy.model_validate(data)


def test_a_vendor_closure_is_named_as_such_and_is_not_counted() -> None:
    policies = {"bitam": with_closure(date(2026, 11, 18))}  # a Wednesday
    story: list[tuple[EventPayload, datetime]] = [(opened("baja"), mx(17, 17))]
    receipt = build_receipt(policies, rows("bitam", story), mx(19, 9, 30))
    assert receipt is not None
    resolution = cycle(receipt, Metric.RESOLUTION)
    assert [(line.start, line.end, line.why) for line in resolution.lines[1:4]] == [  # type: ignore[union-attr]
        (mx(17, 18), mx(18, 0), Why.NIGHT),
        (mx(18, 0), mx(19, 0), Why.VENDOR_CLOSURE),
        (mx(19, 0), mx(19, 8, 30), Why.NIGHT),
    ]
    # Tuesday 17:00-18:00 and Thursday 08:30-09:30
    assert resolution.total == resolution.used == 2 * H


def test_a_reopen_starts_a_new_cycle_whose_receipt_adds_up_on_its_own() -> None:
    story: list[tuple[EventPayload, datetime]] = [
        (opened("media"), mx(17, 9)),
        (
            te.Resolved(actor=AGENT, resolution=te.ResolutionKind.SOLUTION, summary="Listo"),
            mx(17, 10),
        ),
        (te.Reopened(actor=CUSTOMER, reason="Sigue fallando"), mx(17, 17)),
    ]
    receipt = build_receipt(POLICIES, rows("bitam", story), mx(18, 9))
    assert receipt is not None
    first, second = cycle(receipt, Metric.RESOLUTION), cycle(receipt, Metric.RESOLUTION, 2)
    assert (first.total, first.used, first.status) == (H, H, ClockStatus.MET)
    # Tuesday 17:00-18:00 and Wednesday 08:30-09:00
    assert (second.total, second.used, second.started_at) == (1.5 * H, 1.5 * H, mx(17, 17))
