"""SLA clocks, told as the seed policies' stories: pauses, reclassification, reopen, breach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contracts.events import Actor, ActorKind
from contracts.events import ticket as te
from contracts.policy import load_policies
from contracts.vocabulary import Metric
from sla_monitor.clocks import ClockStatus, TicketSla

POLICIES = load_policies(Path(__file__).resolve().parents[3] / "policies")
MEXICO, GUATEMALA, BOGOTA = (
    ZoneInfo(z) for z in ("America/Mexico_City", "America/Guatemala", "America/Bogota")
)
AGENT = Actor(kind=ActorKind.AGENT, id="agent-lucia")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="contact-ana")
FIRST, RESOLUTION, DECISION = Metric.FIRST_RESPONSE, Metric.RESOLUTION, Metric.DECISION


def sla(
    policy: str, priority: str, ticket_type: str, opened_at: datetime, modality: str | None = None
) -> TicketSla:
    return TicketSla(
        POLICIES[policy],
        priority=priority,
        ticket_type=ticket_type,
        modality=modality,
        opened_at=opened_at,
    )


def clock(ticket: TicketSla, metric: Metric, now: datetime) -> dict[str, object]:
    view = next(v for v in ticket.view(now) if v.metric is metric)
    return {"status": view.status, "deadline": view.deadline, "used": view.used, "late": view.late}


def test_an_urgent_ticket_registered_friday_evening_is_answered_in_time_on_monday() -> None:
    friday = datetime(2026, 11, 27, 17, 30, tzinfo=MEXICO)
    ticket = sla("bitam", "urgente", "soporte", friday)
    assert clock(ticket, FIRST, friday)["deadline"] == datetime(2026, 11, 30, 9, tzinfo=MEXICO)
    ticket.apply(
        te.AgentReplied(actor=AGENT, body="Revisando", public=True),
        datetime(2026, 11, 30, 8, 50, tzinfo=MEXICO),
    )
    monday = datetime(2026, 11, 30, 12, tzinfo=MEXICO)
    assert clock(ticket, FIRST, monday) == {
        "status": ClockStatus.MET,
        "deadline": datetime(2026, 11, 30, 9, tzinfo=MEXICO),
        "used": timedelta(minutes=50),
        "late": False,
    }


def test_an_internal_reply_is_not_a_first_response() -> None:
    monday = datetime(2026, 11, 23, 9, tzinfo=MEXICO)
    ticket = sla("bitam", "alta", "soporte", monday)
    ticket.apply(te.AgentReplied(actor=AGENT, body="nota", public=False), monday)
    assert clock(ticket, FIRST, monday)["status"] is ClockStatus.RUNNING


def test_waiting_for_the_customer_pauses_the_clock_and_no_time_is_lost() -> None:
    monday = datetime(2026, 11, 23, 8, 30, tzinfo=MEXICO)
    ticket = sla("bitam", "media", "soporte", monday)  # resolution: 24 business hours
    assert clock(ticket, RESOLUTION, monday)["deadline"] == datetime(
        2026, 11, 25, 13, 30, tzinfo=MEXICO
    )
    ticket.apply(
        te.AwaitingCustomer(actor=AGENT, request="Envíe la captura"),
        datetime(2026, 11, 23, 12, 30, tzinfo=MEXICO),
    )  # 4 h used
    thursday = datetime(2026, 11, 26, 10, tzinfo=MEXICO)
    paused = clock(ticket, RESOLUTION, thursday)
    assert paused["status"] is ClockStatus.PAUSED and paused["used"] == timedelta(hours=4)
    ticket.apply(te.CustomerReplied(actor=CUSTOMER, body="Adjunto"), thursday)
    # 20 business hours left from Thursday 10:00: Thu 8 h, Fri 9.5 h, Mon 2.5 h
    assert clock(ticket, RESOLUTION, thursday)["deadline"] == datetime(
        2026, 11, 30, 11, tzinfo=MEXICO
    )


def test_raising_the_priority_while_paused_keeps_the_time_used_and_the_pause() -> None:
    monday = datetime(2026, 11, 23, 8, tzinfo=GUATEMALA)
    ticket = sla("ikhodi", "p3", "problemas-basicos", monday)  # resolution 24 bh
    ticket.apply(
        te.AwaitingCustomer(actor=AGENT, request="¿Desde cuándo?"),
        datetime(2026, 11, 23, 11, tzinfo=GUATEMALA),
    )  # 3 h used
    ticket.apply(
        te.Classified(
            actor=AGENT,
            ticket_type="problemas-basicos",
            priority="p2",
            previous_ticket_type="problemas-basicos",
            previous_priority="p3",
            reason="Afecta la facturación",
        ),
        datetime(2026, 11, 23, 15, tzinfo=GUATEMALA),
    )
    ticket.apply(
        te.CustomerReplied(actor=CUSTOMER, body="Desde ayer"),
        datetime(2026, 11, 24, 8, tzinfo=GUATEMALA),
    )
    # P2 resolution is 8 business hours; 3 were used before the pause: due Tuesday 13:00
    state = clock(ticket, RESOLUTION, datetime(2026, 11, 24, 8, tzinfo=GUATEMALA))
    assert state["deadline"] == datetime(2026, 11, 24, 13, tzinfo=GUATEMALA)
    assert (
        next(
            v
            for v in ticket.view(datetime(2026, 11, 24, 8, tzinfo=GUATEMALA))
            if v.metric is RESOLUTION
        ).pauses
        == 1
    )


def test_btw_clocks_start_only_once_the_ticket_is_assigned() -> None:
    friday = datetime(2026, 11, 27, 16, tzinfo=BOGOTA)
    ticket = sla("btw", "p2", "soporte", friday)
    assert clock(ticket, RESOLUTION, friday)["status"] is ClockStatus.PENDING
    assigned = datetime(2026, 11, 30, 9, tzinfo=BOGOTA)
    ticket.apply(te.Assigned(actor=AGENT, agent_id="agent-lucia", agent_name="Lucía"), assigned)
    assert clock(ticket, RESOLUTION, assigned)["status"] is ClockStatus.RUNNING
    assert clock(ticket, RESOLUTION, assigned)["used"] == timedelta(0)


def test_a_feature_request_has_no_resolution_clock_but_a_decision_deadline() -> None:
    monday = datetime(2026, 11, 23, 10, tzinfo=MEXICO)
    ticket = sla("bitam", "baja", "nuevo-requerimiento", monday)
    assert clock(ticket, RESOLUTION, monday)["status"] is ClockStatus.NOT_APPLICABLE
    assert clock(ticket, FIRST, monday)["status"] is ClockStatus.NOT_APPLICABLE
    assert clock(ticket, DECISION, monday)["deadline"] == datetime(2026, 12, 7, 10, tzinfo=MEXICO)
    ticket.apply(
        te.FeatureRequestReviewed(actor=AGENT, viable=True),
        datetime(2026, 12, 1, 10, tzinfo=MEXICO),
    )
    assert clock(ticket, DECISION, datetime(2026, 12, 9, tzinfo=MEXICO))["status"] is (
        ClockStatus.MET
    )


@pytest.mark.parametrize(("on_reopen", "used_after"), [("resume", 2.0), ("restart", 0.0)])
def test_a_reopen_resumes_or_restarts_the_resolution_clock_as_the_policy_says(
    on_reopen: str, used_after: float
) -> None:
    policy = POLICIES["bitam"].model_copy(deep=True)
    object.__setattr__(policy.lifecycle, "on_reopen", on_reopen)
    monday = datetime(2026, 11, 23, 9, tzinfo=MEXICO)
    ticket = TicketSla(
        policy, priority="media", ticket_type="soporte", modality=None, opened_at=monday
    )
    ticket.apply(
        te.Resolved(actor=AGENT, resolution="workaround", summary="Alterno"),
        monday + timedelta(hours=2),
    )
    assert clock(ticket, RESOLUTION, monday + timedelta(hours=3))["status"] is ClockStatus.MET
    reopened = datetime(2026, 11, 24, 9, tzinfo=MEXICO)
    ticket.apply(te.Reopened(actor=CUSTOMER, reason="No funcionó"), reopened)
    state = clock(ticket, RESOLUTION, reopened)
    assert state["status"] is ClockStatus.RUNNING
    assert state["used"] == timedelta(hours=used_after)


def test_a_breach_is_reported_and_kept_after_a_pause() -> None:
    monday = datetime(2026, 11, 23, 9, tzinfo=MEXICO)
    ticket = sla("bitam", "urgente", "soporte", monday)  # resolution 1 business hour
    ticket.apply(te.AwaitingCustomer(actor=AGENT, request="?"), monday + timedelta(hours=3))
    later = monday + timedelta(days=1)
    state = clock(ticket, RESOLUTION, later)
    assert state["status"] is ClockStatus.BREACHED
    assert state["deadline"] == monday + timedelta(hours=1)  # when it was breached
    assert state["late"] is True


def test_timers_warn_at_the_policys_thresholds_before_the_breach() -> None:
    monday = datetime(2026, 11, 23, 8, tzinfo=GUATEMALA)
    ticket = sla("ikhodi", "p2", "problemas-basicos", monday)  # warnings at 50% and 80%
    resolution = [t for t in ticket.timers() if t.metric is RESOLUTION]
    assert [(t.kind, t.threshold, t.due.astimezone(GUATEMALA).hour) for t in resolution] == [
        ("warning", 0.5, 12),
        ("warning", 0.8, 14),
        ("breach", 1.0, 16),
    ]
    # minutes of a P2 first response, 30 calendar minutes ("30 minutos", no "hábiles"):
    # warnings at 15 and 24 minutes
    first = [t for t in ticket.timers() if t.metric is FIRST]
    assert [t.due - monday.astimezone(UTC) for t in first] == [
        timedelta(minutes=15),
        timedelta(minutes=24),
        timedelta(minutes=30),
    ]


def test_a_closed_ticket_stops_every_clock() -> None:
    monday = datetime(2026, 11, 23, 9, tzinfo=MEXICO)
    ticket = sla("bitam", "alta", "soporte", monday)
    ticket.apply(te.Closed(actor=CUSTOMER, closure="customer_request"), monday)
    assert ticket.timers() == []
    assert all(v.status is ClockStatus.NOT_APPLICABLE for v in ticket.view(monday))


def test_closing_a_ticket_keeps_the_time_its_running_clocks_used() -> None:
    monday = datetime(2026, 11, 23, 9, tzinfo=MEXICO)
    ticket = sla("bitam", "alta", "soporte", monday)
    # closed at the customer's request at 10:30: 1.5 h used, and still 1.5 h a week later
    ticket.apply(
        te.Closed(actor=CUSTOMER, closure="customer_request"), monday + timedelta(minutes=90)
    )
    later = monday + timedelta(days=7)
    assert clock(ticket, RESOLUTION, later)["used"] == timedelta(minutes=90)


def test_itac_important_tickets_follow_the_contracted_modality() -> None:
    friday = datetime(2026, 11, 27, 16, tzinfo=BOGOTA)
    always = sla("itac", "importante", "incidente", friday, modality="24x7")
    office = sla("itac", "importante", "incidente", friday, modality="8x5")
    assert clock(always, FIRST, friday)["deadline"] == datetime(2026, 11, 27, 20, tzinfo=BOGOTA)
    assert clock(office, FIRST, friday)["deadline"] == datetime(2026, 11, 30, 10, tzinfo=BOGOTA)


def test_proditma_escalates_to_level_2_at_half_the_resolution_time_then_4_hours_later() -> None:
    friday = datetime(2026, 11, 27, 16, tzinfo=MEXICO)  # desk 09:00-18:00
    ticket = sla("proditma", "alta", "incidente", friday)
    (first,) = ticket.actions()
    assert (first.kind, first.level) == ("escalate", 2)
    assert first.due == datetime(2026, 11, 30, 11, tzinfo=MEXICO)  # 4 of 8 business hours
    etr = datetime(2026, 11, 30, 18, tzinfo=MEXICO)
    ticket.apply(
        te.Escalated(actor=AGENT, from_level=1, to_level=2, reason="x", etr=etr), first.due
    )
    (second,) = ticket.actions()
    assert (second.level, second.due) == (3, datetime(2026, 11, 30, 15, tzinfo=MEXICO))
    ticket.apply(
        te.Escalated(actor=AGENT, from_level=2, to_level=3, reason="x", etr=etr), second.due
    )
    assert ticket.actions() == []  # the top level


def test_bitam_abandonment_resolves_after_7_calendar_days_then_closes_15_business_days_later() -> (
    None
):
    monday = datetime(2026, 11, 23, 10, tzinfo=MEXICO)
    ticket = sla("bitam", "media", "soporte", monday)
    asked = datetime(2026, 11, 27, 17, tzinfo=MEXICO)
    ticket.apply(te.AwaitingCustomer(actor=AGENT, request="¿Sigue el error?"), asked)
    (resolve,) = ticket.actions()
    assert (resolve.kind, resolve.due) == (
        "resolve_abandoned",
        datetime(2026, 12, 4, 17, tzinfo=MEXICO),
    )
    ticket.apply(
        te.Resolved(actor=AGENT, resolution="abandoned", summary="Sin respuesta"), resolve.due
    )
    close, notice = ticket.actions()
    assert (close.kind, close.due) == ("close_abandoned", datetime(2026, 12, 28, 17, tzinfo=MEXICO))
    # 000's notice 2 business days before: back from Mon 28 17:00 over the weekend and
    # Christmas (Fri 25, a holiday) to Thu 24 17:00, then Wed 23 17:00 — inside desk hours.
    assert (notice.kind, notice.due) == ("close_notice", datetime(2026, 12, 23, 17, tzinfo=MEXICO))


def test_btw_closes_on_the_fourth_unanswered_contact_attempt() -> None:
    monday = datetime(2026, 11, 23, 9, tzinfo=BOGOTA)
    ticket = sla("btw", "p2", "soporte", monday)
    ticket.apply(te.AwaitingCustomer(actor=AGENT, request="Envíe el XML"), monday)
    for attempt in (1, 2, 3):
        ticket.apply(te.ContactAttempted(actor=AGENT, attempt=attempt, channel="phone"), monday)
        assert ticket.actions() == []
    fourth = monday + timedelta(days=3)
    ticket.apply(te.ContactAttempted(actor=AGENT, attempt=4, channel="email"), fourth)
    assert [(a.kind, a.due) for a in ticket.actions()] == [("close_abandoned", fourth)]


def test_a_resolved_ticket_closes_as_expired_without_confirmation_after_the_term() -> None:
    monday = datetime(2026, 11, 23, 9, tzinfo=MEXICO)
    ticket = sla("bitam", "media", "soporte", monday)
    ticket.apply(te.Resolved(actor=AGENT, resolution="solution", summary="Listo"), monday)
    (close,) = ticket.actions()
    assert close.kind == "close_expired"
    assert POLICIES["bitam"].calendar("oficina-mexico").between(monday, close.due) == timedelta(
        hours=15 * 9.5
    )


def test_a_holiday_inside_a_multi_day_target_moves_the_deadline_by_a_whole_day() -> None:
    monday = datetime(2026, 12, 7, 7, 30, tzinfo=BOGOTA)  # Tuesday the 8th is a holiday
    ticket = sla("btw", "p2", "soporte", monday)
    ticket.apply(te.Assigned(actor=AGENT, agent_id="agent-lucia", agent_name="Lucía"), monday)
    # 72 business hours of 10.5 h days (Friday 10 h), Tuesday skipped: Wednesday 16th, 17:00
    assert clock(ticket, RESOLUTION, monday)["deadline"] == datetime(
        2026, 12, 16, 17, tzinfo=BOGOTA
    )
    tuesday_noon = datetime(2026, 12, 8, 12, tzinfo=BOGOTA)
    assert clock(ticket, RESOLUTION, tuesday_noon)["used"] == timedelta(hours=10.5)
