"""SLA promises kept to the letter: breaches never unannounced, paused clocks without stale
deadlines, resolution cycles on reopen, periodic updates, the close notice in desk hours.

Pure rules (``TicketSla`` and the changes it announces), told as the seed policies' stories;
every due instant is worked by hand in the comments.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from test_sla_clocks import AGENT, CUSTOMER, MEXICO, POLICIES, sla

from contracts.events import sla as se
from contracts.events import ticket as te
from contracts.vocabulary import Metric
from sla_monitor.actions import ActionKind
from sla_monitor.changes import clock_changes, missed_breaches, timer_key
from sla_monitor.clocks import ClockStatus, TicketSla

FIRST, RESOLUTION, UPDATE = Metric.FIRST_RESPONSE, Metric.RESOLUTION, Metric.UPDATE


def view(ticket: TicketSla, metric: Metric, now: datetime) -> object:
    return next(v for v in ticket.view(now) if v.metric is metric)


def stored(ticket: TicketSla, now: datetime) -> dict[str, dict[str, object]]:
    """The ``sla_clocks`` rows the projection would have stored at ``now``."""
    return {
        v.metric.value: {
            "status": v.status.value,
            "running": ticket.clocks[v.metric].running_since is not None,
            "priority": ticket.priority,
            "cycle": v.cycle,
        }
        for v in ticket.view(now)
    }


def test_a_reply_after_the_deadline_announces_the_breach_before_the_met() -> None:
    # BITAM urgent, opened Monday 9:00 (desk 8:30–18:00): first response due 10:00.
    monday = datetime(2026, 11, 30, 9, tzinfo=MEXICO)
    ticket = sla("bitam", "urgente", "soporte", monday)
    before = stored(ticket, monday)
    # The reply comes at 10:05, before the timer loop noticed 10:00 had passed.
    late = datetime(2026, 11, 30, 10, 5, tzinfo=MEXICO)
    ticket.apply(te.AgentReplied(actor=AGENT, body="Revisando", public=True), late)
    breaches = missed_breaches(ticket, fired=set())
    met = clock_changes(ticket, ticket.view(late), before, version=2)
    announced = breaches + met
    first = [c.payload for c in announced if c.payload.metric is FIRST]  # type: ignore[attr-defined]
    assert [type(p) for p in first] == [se.Breached, se.Met]
    breach = first[0]
    assert isinstance(breach, se.Breached)
    assert breach.deadline == datetime(2026, 11, 30, 10, tzinfo=MEXICO)
    # The same id the timer loop would have given it: whichever comes first, once.
    due = datetime(2026, 11, 30, 10, tzinfo=MEXICO)
    assert breaches[0].key == timer_key("first_response", "breach", 1.0, due)
    assert breaches[0].at == due  # it happened at the deadline, not when it was noticed
    # Already fired by the timer: not announced again.
    assert missed_breaches(ticket, fired={("first_response", due)}) == []


def test_a_clock_paused_after_its_deadline_announces_the_breach_it_carries() -> None:
    monday = datetime(2026, 11, 30, 9, tzinfo=MEXICO)
    ticket = sla("bitam", "urgente", "soporte", monday)
    # Resolution due 10:00 (1 business hour); the agent asks the customer at 10:30.
    ticket.apply(
        te.AwaitingCustomer(actor=AGENT, request="¿Qué navegador?"),
        datetime(2026, 11, 30, 10, 30, tzinfo=MEXICO),
    )
    metrics = {c.payload.metric for c in missed_breaches(ticket, set())}  # type: ignore[attr-defined]
    assert metrics == {FIRST, RESOLUTION}


def test_a_paused_clock_met_by_abandonment_reports_no_deadline() -> None:
    # BITAM media: resolution 24 business hours. Paused (awaiting the customer) on day one,
    # then resolved as abandoned while still paused: met, on time, with no deadline — a
    # paused clock has none, and the one it had before the pause is long gone.
    monday = datetime(2026, 11, 23, 10, tzinfo=MEXICO)
    ticket = sla("bitam", "media", "soporte", monday)
    ticket.apply(
        te.AwaitingCustomer(actor=AGENT, request="¿Sigue?"),
        datetime(2026, 11, 23, 11, tzinfo=MEXICO),
    )
    resolved = datetime(2026, 12, 4, 11, tzinfo=MEXICO)
    before = stored(ticket, resolved)
    ticket.apply(
        te.Resolved(actor=AGENT, resolution="abandoned", summary="Sin respuesta"), resolved
    )
    resolution = view(ticket, RESOLUTION, resolved)
    assert resolution.status is ClockStatus.MET  # type: ignore[attr-defined]
    assert resolution.deadline is None  # type: ignore[attr-defined]
    assert resolution.late is False  # type: ignore[attr-defined]
    (met,) = [
        c.payload
        for c in clock_changes(ticket, ticket.view(resolved), before, 3)
        if c.payload.metric is RESOLUTION  # type: ignore[attr-defined]
    ]
    assert isinstance(met, se.Met) and met.deadline is None


def test_a_reopen_starts_a_new_resolution_cycle_and_the_first_keeps_its_outcome() -> None:
    # BTW P2 (on_reopen: restart): resolution within 72 business hours.
    policy = POLICIES["btw"]
    assert policy.lifecycle.on_reopen == "restart"
    monday = datetime(2026, 11, 23, 9, tzinfo=MEXICO)
    ticket = sla("btw", "p2", "soporte", monday)
    ticket.apply(te.Assigned(actor=AGENT, agent_id="a", agent_name="A"), monday)
    resolved = monday + timedelta(hours=3)
    ticket.apply(te.Resolved(actor=AGENT, resolution="solution", summary="Listo"), resolved)
    reopened = monday + timedelta(days=1)
    before = stored(ticket, reopened)
    ticket.apply(te.Reopened(actor=CUSTOMER, reason="Sigue fallando"), reopened)
    clock = ticket.clocks[RESOLUTION]
    assert clock.cycle == 2 and clock.started_at == reopened
    assert clock.used(reopened) == timedelta(0)  # from zero at the reopen instant
    (first_cycle,) = clock.earlier
    assert (first_cycle.cycle, first_cycle.met_at, first_cycle.late) == (1, resolved, False)
    # The first response does not restart.
    assert ticket.clocks[FIRST].cycle == 1
    started = clock_changes(ticket, ticket.view(reopened), before, 5)
    assert [(type(c.payload), c.payload.cycle) for c in started] == [  # type: ignore[attr-defined]
        (se.ClockStarted, 2)
    ]


def test_periodic_updates_are_due_from_each_public_message_and_pause_with_the_customer() -> None:
    # Proditma (002) agrees the frequency of messages; its update target is set per priority.
    policy = POLICIES["proditma"]
    priority = next(p for p in policy.priorities if Metric.UPDATE in p.targets)
    target = policy.duration(priority.targets[Metric.UPDATE])
    monday = datetime(2026, 11, 23, 9, tzinfo=MEXICO)
    ticket = sla("proditma", priority.id, "incidente", monday)
    update = ticket.clocks[UPDATE]
    assert update.started_at is None  # nothing is owed before the first public message
    first = monday + timedelta(minutes=20)
    ticket.apply(te.AgentReplied(actor=AGENT, body="Revisando", public=True), first)
    assert (update.cycle, update.started_at) == (1, first)
    deadline = update.deadline()
    assert deadline is not None and update.calendar is not None
    assert update.calendar.between(first, deadline) == target
    # An internal note is no update to the customer.
    ticket.apply(te.NoteAdded(actor=AGENT, body="interno"), first + timedelta(minutes=5))
    assert update.cycle == 1
    # The next public message meets period 1 and starts period 2.
    second = first + timedelta(minutes=30)
    ticket.apply(te.AgentReplied(actor=AGENT, body="Avance", public=True), second)
    assert update.cycle == 2 and update.earlier[0].met_at == second
    assert update.earlier[0].late is False
    # Asking the customer is a message too; the next update waits for their answer.
    asked = second + timedelta(minutes=10)
    ticket.apply(te.AwaitingCustomer(actor=AGENT, request="¿Logs?"), asked)
    assert update.cycle == 3 and update.running_since is None
    answered = asked + timedelta(days=1)
    ticket.apply(te.CustomerReplied(actor=CUSTOMER, body="Adjunto", channel="email"), answered)
    assert update.running_since == answered
    # Resolved: the last period is met and nothing more is owed.
    done = answered + timedelta(minutes=15)
    ticket.apply(te.Resolved(actor=AGENT, resolution="solution", summary="Listo"), done)
    assert update.met_at == done
    assert not [t for t in ticket.timers() if t.metric is UPDATE]


def test_the_close_notice_goes_out_inside_desk_hours_even_when_resolved_at_night() -> None:
    # Resolved as abandoned on Friday 4 December at 20:00 (the desk closed at 18:00): the 15
    # business days (15 × 9.5 h) run from Monday 7 8:30 and end with the 15th day, Monday 28
    # at 18:00 (Friday 25, Christmas, is a holiday). Two business days before that is the end
    # of Wednesday 23 (18:00, closing time): the notice goes at the next opening, Thursday 24
    # at 8:30 — still exactly two business days (24th and 28th) before the close.
    friday_night = datetime(2026, 12, 4, 20, tzinfo=MEXICO)
    ticket = sla("bitam", "media", "soporte", friday_night - timedelta(days=10))
    ticket.apply(te.AwaitingCustomer(actor=AGENT, request="¿Sigue?"), friday_night)
    ticket.apply(
        te.Resolved(actor=AGENT, resolution="abandoned", summary="Sin respuesta"), friday_night
    )
    actions = {a.kind: a.due for a in ticket.actions()}
    close, notice = actions[ActionKind.CLOSE_ABANDONED], actions[ActionKind.NOTIFY_CLOSE]
    desk = POLICIES["bitam"].calendar(POLICIES["bitam"].business_calendar)
    assert desk.is_open(notice)
    assert desk.between(notice, close) == timedelta(hours=2 * 9.5)
    assert close == datetime(2026, 12, 28, 18, tzinfo=MEXICO)
    assert notice == datetime(2026, 12, 24, 8, 30, tzinfo=MEXICO)
