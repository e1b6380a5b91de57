"""Words the policies, the events and every service share: states, metrics, clock kinds."""

from __future__ import annotations

from enum import StrEnum


class TicketState(StrEnum):
    """The lifecycle of DOMAIN.md §1 (Abierto, En proceso, Resuelto, Cerrado) plus the pause."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    AWAITING_CUSTOMER = "awaiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Metric(StrEnum):
    """What an SLA target measures.

    ``decision`` is the feature-request viability deadline (000: 10 business days), the one
    clock an SLA-exempt type still has.
    """

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"
    UPDATE = "update"
    DECISION = "decision"


class ClockKind(StrEnum):
    """Business time counts only while the calendar is open; calendar time always counts."""

    BUSINESS = "business"
    CALENDAR = "calendar"


class ClockStart(StrEnum):
    """When SLA clocks start: on registration (most) or once assigned (004)."""

    REGISTRATION = "registration"
    ASSIGNMENT = "assignment"


class DeliveryChannel(StrEnum):
    """Channels the notifier delivers over; ``agreed`` is the customer's single agreed one (002)."""

    AGREED = "agreed"
    EMAIL = "email"
    WEBHOOK = "webhook"
    CHAT = "chat"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Audience(StrEnum):
    """Who a notification is for; ``level_group`` is the group of the ticket's current level."""

    CUSTOMER = "customer"
    ASSIGNED_AGENT = "assigned_agent"
    LEVEL_GROUP = "level_group"
    SUPERVISORS = "supervisors"
    INTEGRATIONS = "integrations"
