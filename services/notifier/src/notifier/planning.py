"""From a consumed event to the messages it makes: the notifier's consumer handler.

For each ticket or SLA event, in the consumer's transaction: bring the ticket's view up to
date, ask the policy's routes who hears about it, render each recipient's message in their
language, and log one delivery per address and channel. Sending happens later, in the
dispatcher — a slow SMTP server never holds the stream back. Webhook subscriptions that want
the event (its tenant, policy, priority and type) get one delivery each, at ``sub:<id>``;
internal facts (notes, internal replies) never go to a subscription.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from opentelemetry import propagate

from contracts.events import CloudEvent, EventPayload
from contracts.policy import SupportPolicy
from contracts.vocabulary import Audience, DeliveryChannel
from notifier.delivery import Planned, plan
from notifier.destinations import Destinations
from notifier.messages import Messages
from notifier.routing import Recipient, is_internal, recipients
from notifier.subscriptions.store import Subscriptions, address_of
from notifier.tickets import TicketNotReady, TicketView, apply
from servicekit.clock import Clock
from servicekit.messaging.consumer import Connection, TransientError

log = logging.getLogger(__name__)


class Planner:
    def __init__(
        self,
        policies: Mapping[str, SupportPolicy],
        destinations: Destinations,
        messages: Messages,
        clock: Clock,
        stale_after: timedelta = timedelta(days=1),
        subscriptions: Subscriptions | None = None,
    ) -> None:
        self.subscriptions = subscriptions
        self.stale_after = stale_after
        self.policies = policies
        self.destinations = destinations
        self.messages = messages
        self.clock = clock

    async def handle(self, event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
        """The consumer handler: route and log the messages of one event."""
        row = await conn.fetchrow(
            "SELECT view FROM notifier_tickets WHERE ticket_id = $1 FOR UPDATE", event.subject
        )
        before = TicketView.model_validate_json(row["view"]) if row else None
        try:
            ticket = apply(before, event, payload)
        except TicketNotReady as exc:
            raise TransientError(str(exc)) from exc
        if ticket is not before:
            await conn.execute(
                "INSERT INTO notifier_tickets (ticket_id, version, view) VALUES ($1, $2, $3)"
                " ON CONFLICT (ticket_id) DO UPDATE SET version = $2, view = $3",
                ticket.ticket_id,
                ticket.version,
                ticket.model_dump_json(),
            )
        latest = self.policies.get(event.policy)
        if latest is None:
            log.warning("event %s names unknown policy %r; nobody told", event.id, event.policy)
            return
        policy = latest.in_force(event.time)  # whom to tell, as the version then in force says
        now = self.clock.now()
        if now - event.time > self.stale_after:
            log.info("event %s is from %s: too old to tell anyone now", event.id, event.time)
            return
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        found = recipients(event.event_name, payload, ticket, policy, self.destinations)
        if self.subscriptions is not None and not is_internal(payload):
            zone = policy.calendars[policy.business_calendar].time_zone
            for subscription in await self.subscriptions.matching(
                conn,
                tenant=ticket.tenant,
                policy=policy.id,
                priority=ticket.priority,
                event_name=event.event_name,
            ):
                address = address_of(subscription.id)
                name = subscription.description or subscription.id
                audience, channel = Audience.INTEGRATIONS, DeliveryChannel.WEBHOOK
                found.append(
                    Recipient(audience, channel, address, name, policy.default_locale, zone, True)
                )
        for recipient in found:
            message = self.messages.render(
                event=event, payload=payload, ticket=ticket, policy=policy, recipient=recipient
            )
            webhook = recipient.channel == DeliveryChannel.WEBHOOK
            await plan(
                conn,
                Planned(
                    event_id=event.id,
                    event_type=event.event_name,
                    ticket_id=ticket.ticket_id,
                    tenant=ticket.tenant,
                    policy=policy.id,
                    case_number=ticket.case_number,
                    kind=message.kind,
                    audience=recipient.audience.value,
                    channel=recipient.channel.value,
                    address=recipient.address,
                    recipient_name=recipient.name,
                    locale=recipient.locale,
                    subject=message.subject,
                    body=message.body,
                    short=message.short,
                    event=event.model_dump(mode="json", exclude_none=True) if webhook else None,
                    traceparent=carrier.get("traceparent"),
                ),
                now,
            )
