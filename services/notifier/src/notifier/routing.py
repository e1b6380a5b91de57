"""Who hears about an event, over which channel: the policy's routes applied to one ticket.

Pure rules, no I/O. A policy's route says which events reach which audiences over which
channels (``notifications.routes``); this module turns one event of one ticket into the
concrete recipients — an address on a channel, with the language and time zone to write in.

- The customer is reached on the channel agreed with them (``agreed``: the contact's own
  choice, else the policy's default), never on a channel they cannot receive.
- Internal facts (internal notes, internal replies) never reach the customer or a
  customer-facing integration, whatever a route says.
- The same address on the same channel is told once per event, even when it belongs to
  several audiences (an agent who is also in the level group).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.events import EventPayload
from contracts.events.ticket import is_internal as internal_fact
from contracts.policy import SupportPolicy
from contracts.vocabulary import Audience, DeliveryChannel
from notifier.destinations import Destinations
from notifier.tickets import TicketView

CUSTOMER_SIDE = {Audience.CUSTOMER}


@dataclass(frozen=True)
class Recipient:
    """One address on one channel, and how to write to it."""

    audience: Audience
    channel: DeliveryChannel
    address: str
    """Email address, E.164 phone, chat destination name or integration name."""
    name: str | None
    locale: str
    time_zone: str
    customer_facing: bool


def is_internal(payload: EventPayload) -> bool:
    """Facts the customer must never see (notes, internal replies): the contract's rule."""
    return internal_fact(payload.event_name, getattr(payload, "public", None))


def recipients(
    event_name: str,
    payload: EventPayload,
    ticket: TicketView,
    policy: SupportPolicy,
    destinations: Destinations,
) -> list[Recipient]:
    """Everyone the policy says to tell about this event, each address and channel once."""
    internal = is_internal(payload)
    zone = ticket.contact.time_zone or policy.calendars[policy.business_calendar].time_zone
    staff_zone = policy.calendars[policy.business_calendar].time_zone
    found: dict[tuple[DeliveryChannel, str], Recipient] = {}

    def add(recipient: Recipient) -> None:
        found.setdefault((recipient.channel, recipient.address), recipient)

    def staff(
        audience: Audience,
        channel: DeliveryChannel,
        *,
        email: str | None,
        phone: str | None,
        chat: str | None,
        name: str | None,
        locale: str | None = None,
        time_zone: str | None = None,
    ) -> None:
        address = {
            DeliveryChannel.EMAIL: email,
            DeliveryChannel.CHAT: chat,
            DeliveryChannel.SMS: phone,
            DeliveryChannel.WHATSAPP: phone,
        }.get(channel)
        if address:
            add(
                Recipient(
                    audience,
                    channel,
                    address,
                    name,
                    locale or policy.default_locale,
                    time_zone or staff_zone,
                    customer_facing=False,
                )
            )

    def group(audience: Audience, group_id: str, channel: DeliveryChannel) -> None:
        spec = policy.groups.get(group_id)
        if spec is None:
            return
        if channel == DeliveryChannel.CHAT:
            staff(audience, channel, email=None, phone=None, chat=spec.chat, name=spec.name)
        for email in spec.emails if channel == DeliveryChannel.EMAIL else []:
            staff(audience, channel, email=email, phone=None, chat=None, name=spec.name)

    for route in policy.notifications.routes:
        if not route.matches(event_name):
            continue
        for audience in route.notify:
            for via in route.via:
                channel: DeliveryChannel = (
                    DeliveryChannel.EMAIL if via == DeliveryChannel.AGREED else via
                )
                if audience == Audience.CUSTOMER:
                    if internal:
                        continue
                    contact = ticket.contact
                    if via == DeliveryChannel.AGREED:
                        channel = DeliveryChannel(
                            contact.channel or policy.notifications.customer_channel.default
                        )
                    address = contact.email if channel == DeliveryChannel.EMAIL else None
                    if channel in (DeliveryChannel.SMS, DeliveryChannel.WHATSAPP):
                        address = contact.phone
                    if address:
                        locale = contact.locale.split("-")[0]
                        add(Recipient(audience, channel, address, contact.name, locale, zone, True))
                elif audience == Audience.ASSIGNED_AGENT and ticket.agent_id:
                    agent = destinations.agent(ticket.agent_id)
                    if agent is not None:
                        staff(
                            audience,
                            channel,
                            email=agent.email,
                            phone=agent.phone,
                            chat=agent.chat,
                            name=agent.name or ticket.agent_name,
                            locale=agent.locale,
                            time_zone=agent.time_zone,
                        )
                elif audience == Audience.LEVEL_GROUP and policy.escalation:
                    levels = policy.escalation.levels
                    level = levels[min(ticket.level, len(levels)) - 1]
                    for group_id in level.notify:
                        group(audience, group_id, channel)
                elif audience == Audience.SUPERVISORS:
                    for group_id in policy.notifications.supervisors:
                        group(audience, group_id, channel)
                elif audience == Audience.INTEGRATIONS and channel == DeliveryChannel.WEBHOOK:
                    for name, hook in destinations.integrations.items():
                        if not hook.wants(ticket.tenant, event_name):
                            continue
                        if internal and hook.customer_facing:
                            continue
                        add(
                            Recipient(
                                audience,
                                channel,
                                name,
                                name,
                                policy.default_locale,
                                staff_zone,
                                customer_facing=hook.customer_facing,
                            )
                        )
    return list(found.values())
