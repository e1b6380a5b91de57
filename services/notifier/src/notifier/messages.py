"""The words of each message: Jinja2 templates in Spanish and English, per policy if need be.

One template per kind of message and language (``templates/<es|en>/<kind>.txt``) with three
blocks: ``subject``, ``short`` (chat, SMS, WhatsApp) and the body, which a shared layout frames
with the case number so replies thread back to the ticket. A template speaks to the customer
or to staff (``customer`` is true or false in its context). Times are written in the
recipient's own time zone and language (Babel's CLDR formats), so a customer in Bogotá and a
supervisor in Mexico City each read their local time.

A deployment overrides any template in ``NOTIFIER_TEMPLATES_DIR`` — for one policy
(``<dir>/<policy>/<locale>/<kind>.txt``) or for all. A broken override is logged and the
built-in template used instead: a typo must not silence a breach warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import (
    format_date,
    format_skeleton,
    format_time,
    format_timedelta,
    get_timezone_location,
)
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateError,
)

from contracts.events import CloudEvent, EventPayload
from contracts.policy import SupportPolicy
from notifier.routing import Recipient
from notifier.tickets import TicketView

log = logging.getLogger(__name__)
LANGUAGES = ("es", "en")

KIND_OF_EVENT = {
    "ticket.opened": "acknowledgment",
    "ticket.classified": "status_change",
    "ticket.assigned": "assigned",
    "ticket.in_progress": "status_change",
    "ticket.agent_replied": "agent_reply",
    "ticket.customer_replied": "customer_reply",
    "ticket.awaiting_customer": "information_request",
    "ticket.contact_attempted": "information_request",
    "ticket.etr_updated": "etr_updated",
    "ticket.escalated": "escalation",
    "ticket.resolved": "resolved",
    "ticket.reopened": "status_change",
    "ticket.closed": "closed",
    "ticket.note_added": "internal_note",
    "ticket.feature_request_reviewed": "feature_review",
    "sla.warning": "sla_warning",
    "sla.breached": "sla_breach",
    "sla.abandonment_warning": "abandonment_notice",
}
"""The kind of message each event makes; the other SLA events make an ``sla_update``."""

LABELS: dict[str, dict[str, str]] = {
    "es": {
        "open": "abierto",
        "in_progress": "en curso",
        "awaiting_customer": "en espera de su respuesta",
        "resolved": "resuelto",
        "closed": "cerrado",
        "first_response": "primera respuesta",
        "resolution": "resolución",
        "update": "actualización",
        "decision": "decisión",
    },
    "en": {
        "open": "open",
        "in_progress": "in progress",
        "awaiting_customer": "awaiting your answer",
        "resolved": "resolved",
        "closed": "closed",
        "first_response": "first response",
        "resolution": "resolution",
        "update": "update",
        "decision": "decision",
    },
}


@dataclass(frozen=True)
class Message:
    kind: str
    subject: str
    body: str
    short: str


def kind_of(event_name: str) -> str:
    return KIND_OF_EVENT.get(event_name, "sla_update")


class Messages:
    """Renders messages from the built-in templates and a deployment's overrides."""

    def __init__(self, overrides: Path | None = None) -> None:
        self.overrides = overrides
        self.builtin = self._environment(PackageLoader("notifier", "templates"))
        self._by_policy: dict[str, Environment] = {}

    @staticmethod
    def _environment(loader: BaseLoader) -> Environment:
        return Environment(
            loader=loader,
            undefined=StrictUndefined,
            autoescape=False,  # plain-text messages; webhooks carry the JSON event instead
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def environment(self, policy_id: str) -> Environment:
        if self.overrides is None:
            return self.builtin
        if policy_id not in self._by_policy:
            loaders: list[BaseLoader] = [
                FileSystemLoader(self.overrides / policy_id),
                FileSystemLoader(self.overrides),
                PackageLoader("notifier", "templates"),
            ]
            self._by_policy[policy_id] = self._environment(ChoiceLoader(loaders))
        return self._by_policy[policy_id]

    def render(
        self,
        *,
        event: CloudEvent,
        payload: EventPayload,
        ticket: TicketView,
        policy: SupportPolicy,
        recipient: Recipient,
    ) -> Message:
        kind = kind_of(event.event_name)
        language = recipient.locale if recipient.locale in LANGUAGES else "es"
        context = self.context(event, payload, ticket, policy, recipient, language)
        name = f"{language}/{kind}.txt"
        try:
            template = self.environment(policy.id).get_template(name)
            return _render(kind, template, context)
        except TemplateError:
            if self.overrides is None:
                raise
            log.exception(
                "template override %s for policy %s failed; using built-in", name, policy.id
            )
            return _render(kind, self.builtin.get_template(name), context)

    def render_notice(
        self, kind: str, *, policy: SupportPolicy, language: str, context: dict[str, Any]
    ) -> Message:
        """A message about the desk's own machinery (a webhook paused), not about an event;
        the same loaders, so a deployment overrides its words like any other template."""
        language = language if language in LANGUAGES else "es"
        context = context | {"vendor": policy.vendor, "policy_name": policy.name}
        name = f"{language}/{kind}.txt"
        try:
            return _render(kind, self.environment(policy.id).get_template(name), context)
        except TemplateError:
            if self.overrides is None:
                raise
            log.exception(
                "template override %s for policy %s failed; using built-in", name, policy.id
            )
            return _render(kind, self.builtin.get_template(name), context)

    @staticmethod
    def context(
        event: CloudEvent,
        payload: EventPayload,
        ticket: TicketView,
        policy: SupportPolicy,
        recipient: Recipient,
        language: str,
    ) -> dict[str, Any]:
        zone = ZoneInfo(recipient.time_zone)

        def when(value: datetime | None) -> str:
            """``miércoles, 25 de noviembre de 2026, 15:30, hora de Colombia``."""
            if value is None:
                return "—"
            local = value.astimezone(zone)
            day = format_date(local, "full", locale=language)
            time = format_time(local, "short", locale=language)
            return f"{day}, {time}, {get_timezone_location(zone, locale=language)}"

        def when_short(value: datetime | None) -> str:
            """``mié, 25 nov 2026 14:30``: for subjects, chat and SMS."""
            if value is None:
                return "—"
            local = value.astimezone(zone)
            day = format_skeleton("yMMMEd", local, locale=language)
            return f"{day} {format_time(local, 'short', locale=language)}"

        def duration(value: timedelta) -> str:
            return format_timedelta(value, threshold=1.1, locale=language)

        levels = policy.escalation.levels if policy.escalation else []
        level_names = {lv.level: lv.name for lv in levels}
        try:
            priority_name = policy.priority(ticket.priority).name
        except KeyError:
            priority_name = ticket.priority
        labels = LABELS[language]
        return {
            "event": event.event_name,
            "data": payload,
            "ticket": ticket,
            "case_number": ticket.case_number,
            "title": ticket.title,
            "priority": priority_name,
            "state": labels.get(ticket.state, ticket.state),
            "agent_name": ticket.agent_name,
            "level": ticket.level,
            "level_name": level_names.get(ticket.level, str(ticket.level)),
            "etr": ticket.etr,
            "customer": recipient.customer_facing,
            "recipient_name": recipient.name,
            "contact_name": ticket.contact.name,
            "policy_name": policy.name,
            "vendor": policy.vendor,
            "label": labels,
            "when": when,
            "when_short": when_short,
            "duration": duration,
            "max_attempts": policy.abandonment.max_unanswered_contact_attempts,
        }


def _render(kind: str, template: Template, context: dict[str, Any]) -> Message:
    def block(name: str) -> str:
        render = template.blocks.get(name)
        if render is None:
            return ""
        return " ".join("".join(render(template.new_context(context))).split())

    body = template.render(context).strip() + "\n"
    subject = block("subject")
    return Message(kind=kind, subject=subject, body=body, short=block("short") or subject)
