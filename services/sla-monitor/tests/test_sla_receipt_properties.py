"""Whatever happens to a ticket, its receipt adds up: random timelines on every seed policy.

For every metric and cycle, the counted spans sum to the clock's used time as ``TicketSla``
computes it (to the microsecond); the spans and the stretches that did not count tile the
measured period without overlapping; and every stretch that did not count has a reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_sla_receipt import AGENT, CUSTOMER, POLICIES, rows

from contracts.events import EventPayload
from contracts.events import ticket as te
from contracts.vocabulary import Metric
from sla_monitor.projection import replay
from sla_monitor.receipt import build_receipt
from sla_monitor.receipt_lines import Retarget, Skipped, Why

Story = list[tuple[EventPayload, datetime]]
KINDS = (
    "assign",
    "public_reply",
    "private_reply",
    "await",
    "customer_reply",
    "classify",
    "resolve",
    "reopen",
    "close",
)
GAPS = st.one_of(
    st.builds(timedelta, minutes=st.integers(0, 240), microseconds=st.integers(0, 999_999)),
    st.builds(timedelta, hours=st.integers(0, 24 * 6), seconds=st.integers(0, 3599)),
)


@st.composite
def timelines(draw: st.DrawFn) -> tuple[str, Story]:
    """A ticket on a random policy, opened at a random instant of 2026, then a random run of
    the lifecycle's events (nothing after it is closed: ticket-api refuses that)."""
    policy = POLICIES[draw(st.sampled_from(sorted(POLICIES)))]
    types = [t.id for t in policy.ticket_types]
    priorities = [p.id for p in policy.priorities]
    modalities = [None, *(m.id for m in policy.modalities)]
    ticket_type, priority = draw(st.sampled_from(types)), draw(st.sampled_from(priorities))
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 525_000)))
    story: Story = [
        (
            te.Opened(
                actor=CUSTOMER,
                case_number="ABC-000001",
                contact=te.Contact(id="contact-ana", name="Ana", email="ana@acme.example"),
                title="Falla",
                description="Falla",
                ticket_type=ticket_type,
                priority=priority,
                modality=draw(st.sampled_from(modalities)),
            ),
            at,
        )
    ]
    for kind in draw(st.lists(st.sampled_from(KINDS), max_size=12)):
        at += draw(GAPS)
        event: EventPayload
        if kind == "assign":
            event = te.Assigned(actor=AGENT, agent_id="agent-lucia", agent_name="Lucía")
        elif kind in ("public_reply", "private_reply"):
            event = te.AgentReplied(actor=AGENT, body="Revisando", public=kind == "public_reply")
        elif kind == "await":
            event = te.AwaitingCustomer(actor=AGENT, request="Envíe el registro")
        elif kind == "customer_reply":
            event = te.CustomerReplied(actor=CUSTOMER, body="Adjunto")
        elif kind == "classify":
            new_type, new_priority = draw(st.sampled_from(types)), draw(st.sampled_from(priorities))
            event = te.Classified(
                actor=AGENT,
                ticket_type=new_type,
                priority=new_priority,
                previous_ticket_type=ticket_type,
                previous_priority=priority,
                reason="Reclasificado",
            )
            ticket_type, priority = new_type, new_priority
        elif kind == "resolve":
            event = te.Resolved(
                actor=AGENT, resolution=te.ResolutionKind.SOLUTION, summary="Resuelto"
            )
        elif kind == "reopen":
            event = te.Reopened(actor=CUSTOMER, reason="Sigue fallando")
        else:
            event = te.Closed(actor=AGENT, closure=te.ClosureKind.CONFIRMED)
        story.append((event, at))
        if kind == "close":
            break
    return policy.id, story


@settings(max_examples=80, deadline=None)
@given(timelines(), GAPS)
def test_every_receipt_adds_up_to_its_clocks_used_time_and_explains_every_gap(
    timeline: tuple[str, Story], after: timedelta
) -> None:
    policy, story = timeline
    stored: list[dict[str, Any]] = rows(policy, story)
    as_of = story[-1][1] + after
    receipt = build_receipt(POLICIES, stored, as_of)
    sla = replay(POLICIES, stored)
    assert receipt is not None and sla is not None

    expected: dict[tuple[Metric, int], timedelta] = {}
    for metric, clock in sla.clocks.items():
        for ended in clock.earlier:
            if ended.started_at is not None:
                expected[(metric, ended.cycle)] = ended.used
        if clock.started_at is not None:
            expected[(metric, clock.cycle)] = clock.used(as_of)
    assert {(c.metric, c.cycle): c.total for c in receipt.cycles} == expected

    for cycle in receipt.cycles:
        stretches = [line for line in cycle.lines if not isinstance(line, Retarget)]
        cursor = cycle.started_at
        for line in stretches:  # tiled: no overlap, no hole, nothing empty
            assert line.start == cursor and line.start < line.end, (cycle, line)
            cursor = line.end
        assert cursor == cycle.ended_at
        for line in stretches:
            if isinstance(line, Skipped):
                assert line.why in Why
                if line.why is Why.HOLIDAY:
                    assert line.name
                if line.why is Why.PAUSE:
                    assert line.by is not None and line.because
