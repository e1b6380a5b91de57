"""Who hears about what: the seed policies' routes applied to one ticket at a time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from notifier_fixtures import ANA, ANA_WHATSAPP, AT, POLICIES, ROOT, SERVICE, Story, opened

from contracts.events import payload_of
from contracts.events import sla as se
from contracts.events import ticket as te
from contracts.vocabulary import Audience, DeliveryChannel, Metric
from notifier.destinations import Agent, Destinations, Integration, load_destinations
from notifier.routing import Recipient, recipients
from notifier.tickets import TicketNotReady, TicketView, apply

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DESTINATIONS = Destinations(
    agents={
        "agent-lucia": Agent(name="Lucía Gómez", email="lucia@proditma.example", locale="es"),
    },
    integrations={
        "acme-erp": Integration(url="https://erp.acme.example/hooks", secret=SECRET),
        "desk-bi": Integration(
            url="https://bi.internal.example/hooks", secret=SECRET, customer_facing=False
        ),
    },
)


def route(story: Story, view: TicketView | None, payload: te.TicketEvent | se.SlaEvent):
    event = story.event(payload)
    ticket = apply(view, event, payload_of(event))
    found = recipients(event.event_name, payload, ticket, POLICIES[story.policy], DESTINATIONS)
    return ticket, found


def addresses(found: list[Recipient]) -> set[tuple[str, str]]:
    return {(r.channel.value, r.address) for r in found}


def test_the_customer_hears_of_a_new_ticket_on_the_channel_agreed_with_them() -> None:
    # 002: "un canal único de comunicación con el Cliente" — Ana agreed on WhatsApp.
    story = Story("proditma")
    _, found = route(story, None, opened("proditma", ANA_WHATSAPP))
    assert addresses(found) == {("whatsapp", "+525512345678")}
    assert found[0].time_zone == "America/Bogota"
    assert found[0].customer_facing


def test_without_an_agreed_channel_the_policy_default_is_used() -> None:
    story = Story("proditma")
    _, found = route(story, None, opened("proditma", ANA))
    assert addresses(found) == {("email", "ana@acme.example")}
    # Times are written in the policy's local time when the contact gives no zone of its own.
    assert found[0].time_zone == "America/Mexico_City"


def test_an_escalation_reaches_the_customer_with_etr_and_the_new_levels_group() -> None:
    story = Story("proditma")
    ticket, _ = route(story, None, opened("proditma", ANA))
    escalated = te.Escalated(
        actor=SERVICE,
        from_level=1,
        to_level=2,
        reason="50% del tiempo",
        etr=AT + timedelta(hours=4),
    )
    ticket, found = route(story, ticket, escalated)
    assert ticket.level == 2 and ticket.etr == AT + timedelta(hours=4)
    # Level 2 (Operaciones) is told by email; it has no chat destination, so no chat message.
    assert addresses(found) == {
        ("email", "ana@acme.example"),
        ("email", "soportetecnico@proditmapac.com"),
    }
    by_audience = {r.audience for r in found}
    assert by_audience == {Audience.CUSTOMER, Audience.LEVEL_GROUP}


def test_an_sla_warning_reaches_the_assigned_agent_level_group_and_supervisors_once_each() -> None:
    story = Story("proditma")
    ticket, _ = route(story, None, opened("proditma", ANA))
    assigned = te.Assigned(actor=SERVICE, agent_id="agent-lucia", agent_name="Lucía Gómez")
    ticket, _ = route(story, ticket, assigned)
    warning = se.WarningRaised(
        actor=SERVICE,
        metric=Metric.RESOLUTION,
        priority="alta",
        threshold=0.75,
        deadline=AT + timedelta(hours=2),
        remaining=timedelta(hours=2),
    )
    _, found = route(story, ticket, warning)
    assert addresses(found) == {
        ("email", "lucia@proditma.example"),
        ("email", "mesadeayuda@proditmapac.com"),
    }
    assert not any(r.customer_facing for r in found)


def test_internal_notes_never_reach_the_customer_nor_a_customer_facing_integration() -> None:
    # BITAM sends every agent reply to the customer and ticket.opened to integrations; route
    # internal facts through a policy that names them for everyone.
    policy = POLICIES["bitam"]
    everyone = policy.notifications.routes[0].model_copy(
        update={
            "events": ["ticket.note_added", "ticket.agent_replied"],
            "notify": [Audience.CUSTOMER, Audience.INTEGRATIONS],
            "via": [DeliveryChannel.AGREED, DeliveryChannel.WEBHOOK],
        }
    )
    routes = [*policy.notifications.routes, everyone]
    noisy = policy.model_copy(
        update={"notifications": policy.notifications.model_copy(update={"routes": routes})}
    )
    story = Story("bitam")
    ticket = apply(None, story.event(opened("bitam")), opened("bitam"))
    for payload in (
        te.NoteAdded(actor=SERVICE, body="El cliente usa una versión pirata"),
        te.AgentReplied(actor=SERVICE, body="Revisar con desarrollo", public=False),
    ):
        found = recipients(payload.event_name, payload, ticket, noisy, DESTINATIONS)
        assert addresses(found) == {("webhook", "desk-bi")}  # the internal integration only
    public = te.AgentReplied(actor=SERVICE, body="Ya quedó", public=True)
    found = recipients(public.event_name, public, ticket, noisy, DESTINATIONS)
    assert addresses(found) == {
        ("email", "ana@acme.example"),
        ("webhook", "acme-erp"),
        ("webhook", "desk-bi"),
    }


def test_an_integration_limited_to_other_tenants_hears_nothing() -> None:
    story = Story("bitam", tenant="globex")
    limited = Destinations(
        integrations={
            "acme-erp": Integration(
                url="https://erp.acme.example/hooks", secret=SECRET, tenants=["acme"]
            )
        }
    )
    payload = opened("bitam")
    event = story.event(payload)
    ticket = apply(None, event, payload)
    found = recipients(event.event_name, payload, ticket, POLICIES["bitam"], limited)
    assert addresses(found) == {("email", "ana@acme.example")}


def test_an_sla_event_before_its_ticket_waits_for_it() -> None:
    story = Story("bitam")
    breach = se.Breached(actor=SERVICE, metric=Metric.RESOLUTION, priority="alta", deadline=AT)
    with pytest.raises(TicketNotReady):
        apply(None, story.event(breach), breach)


def test_a_ticket_event_after_a_gap_waits_for_the_missing_one() -> None:
    story = Story("bitam")
    payload = opened("bitam")
    ticket = apply(None, story.event(payload), payload)
    story.version += 1  # version 2 is still on its way
    late = te.InProgress(actor=SERVICE)
    with pytest.raises(TicketNotReady):
        apply(ticket, story.event(late), late)


def test_the_example_destinations_file_is_valid() -> None:
    example = load_destinations(ROOT / "config" / "destinations.example.yaml")
    assert example.agent("agent-lucia") == example.agents["agent-lucia"]
    assert example.agent("someone@desk.example") == Agent(email="someone@desk.example")
    assert example.integrations["acme-erp"].wants("acme", "ticket.opened")
    assert not example.integrations["acme-erp"].wants("acme", "sla.breached")
    assert not example.integrations["acme-erp"].wants("globex", "ticket.opened")


def test_a_destinations_file_with_a_weak_secret_is_refused_naming_the_field(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "destinations.yaml"
    bad.write_text("integrations:\n  erp: {url: 'https://erp.example/h', secret: 'hunter2'}\n")
    with pytest.raises(ValueError, match=r"integrations\.erp\.secret: webhook secrets look like"):
        load_destinations(bad)
