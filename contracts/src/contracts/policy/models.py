"""The support-policy file format: one YAML file per vendor policy, parsed into these models.

Every rule of DOMAIN.md has a field here, so a policy is configuration, not code: calendars,
priorities with targets per metric and clock kind, ticket types (SLA-exempt ones with their
decision deadline), intake fields, supported versions, scope, subcategory → priority,
abandonment, escalation levels, warnings and notification routing. Cross-references (a target
naming a calendar, a route naming an event) are checked when the file loads, so a mistake is
reported with its place in the file instead of surfacing as a wrong deadline weeks later.

long: the models follow the policy file section by section (calendars, priorities, types,
intake, lifecycle, abandonment, escalation, notifications), so a field is found where it is
written in YAML and the published JSON Schema is generated from one module; the questions
services ask of a loaded policy live in ``policy.py``, loading and checking in ``loader``.
"""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from contracts.events.envelope import EVENTS
from contracts.policy.durations import Duration
from contracts.vocabulary import (
    Audience,
    ClockKind,
    ClockStart,
    DeliveryChannel,
    Metric,
    TicketState,
)

Identifier = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", min_length=1, max_length=63)
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Share = Annotated[float, Field(gt=0, le=1)]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DAYS = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not an IANA time zone (e.g. 'America/Mexico_City')"
        ) from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]


def parse_window(text: str) -> tuple[time, time]:
    """``'08:30-18:00'`` → local times; ``24:00`` is allowed as an end (returned as 00:00)."""
    match = _WINDOW.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not an opening window; write it as quoted 'HH:MM-HH:MM'")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise ValueError(f"{text!r} has an impossible time of day")
    start, end = time(sh, sm), time(0 if eh == 24 else eh, em)
    if (eh, em) <= (sh, sm):
        raise ValueError(f"{text!r} ends before it starts; split a night shift at 24:00")
    return start, end


def _check_window(text: str) -> str:
    parse_window(text)
    return text.strip()


WindowText = Annotated[
    str,
    AfterValidator(_check_window),
    Field(pattern=r"^\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}\s*$", examples=["08:30-18:00"]),
]


class LocalizedText(_Spec):
    """A text shown to people, in Spanish and English."""

    es: Name
    en: Name


class HolidaySource(_Spec):
    """Closed days: a country's official holidays (the ``holidays`` package) plus closures."""

    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    """ISO 3166-1 alpha-2 code whose official holidays close the desk, e.g. ``MX``."""
    subdivision: str | None = None
    """A state or province code when its holidays apply too, e.g. ``CMX``."""
    closures: list[date] = []
    """The vendor's own closure days (company holidays, inventory days)."""

    @model_validator(mode="after")
    def _known_country(self) -> HolidaySource:
        if self.country is None:
            if self.subdivision:
                raise ValueError("a subdivision needs its country")
            return self
        supported = holidays_lib.list_supported_countries()
        if self.country not in supported:
            raise ValueError(f"no official holidays are known for country {self.country!r}")
        if self.subdivision and self.subdivision not in supported[self.country]:
            raise ValueError(
                f"{self.country} has no subdivision {self.subdivision!r}; "
                f"known: {', '.join(supported[self.country]) or 'none'}"
            )
        return self


class CalendarSpec(_Spec):
    """When a desk is open: time zone, weekly windows, closed days."""

    time_zone: TimeZoneName
    """IANA time zone of the office, e.g. ``America/Bogota``."""
    always_open: bool = False
    """24/7: every hour counts (``hours`` and ``holidays`` must then be left out)."""
    hours: dict[str, list[WindowText]] = {}
    """Weekday (``mon``..``sun``) or range (``mon-fri``) → windows; several make a split shift."""
    holidays: HolidaySource | None = None
    holiday_hours: list[WindowText] = []
    """Hours kept on holidays (a holiday line); empty means closed all day."""
    business_day: Duration | None = None
    """Length of one business day for ``bd`` durations; default: the most common open day."""

    @field_validator("hours")
    @classmethod
    def _weekday_keys(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: set[str] = set()
        for key in value:
            for day in expand_days(key):
                if day in seen:
                    raise ValueError(f"{day} is given twice")
                seen.add(day)
        return value

    @model_validator(mode="after")
    def _open_sometime(self) -> CalendarSpec:
        if self.always_open and (self.hours or self.holidays or self.holiday_hours):
            raise ValueError("an always_open calendar takes no hours, holidays or holiday_hours")
        if not self.always_open and not any(self.hours.values()):
            raise ValueError("give opening hours, or always_open: true for 24/7")
        return self

    def weekly_windows(self) -> dict[int, list[tuple[time, time]]]:
        """Weekday (Monday == 0) → local windows, as ``BusinessCalendar`` takes them."""
        if self.always_open:
            return {day: [(time(0), time(0))] for day in range(7)}
        weekly: dict[int, list[tuple[time, time]]] = {}
        for key, windows in self.hours.items():
            for day in expand_days(key):
                weekly[WEEKDAYS.index(day)] = [parse_window(w) for w in windows]
        return weekly


def expand_days(key: str) -> list[str]:
    """``'mon-fri'`` → ``['mon', ..., 'fri']``; a single day stands for itself."""
    match = _DAYS.match(key.strip().lower())
    if not match:
        raise ValueError(f"{key!r} is not a weekday; use mon..sun or a range like 'mon-fri'")
    first, last = match.group(1), match.group(2) or match.group(1)
    lo, hi = WEEKDAYS.index(first), WEEKDAYS.index(last)
    if hi < lo:
        raise ValueError(f"{key!r} runs backwards; write e.g. 'mon-fri'")
    return list(WEEKDAYS[lo : hi + 1])


class Target(_Spec):
    """A time promise: how long, on which clock, on which calendar."""

    within: Duration
    clock: ClockKind = ClockKind.BUSINESS
    calendar: Identifier | None = None
    """For business clocks: a calendar of this policy; default the policy's (or modality's)."""

    @model_validator(mode="after")
    def _days_need_business_clock(self) -> Target:
        if self.within.is_business_days and self.clock is ClockKind.CALENDAR:
            raise ValueError("business days ('bd') only make sense on a business clock")
        if self.clock is ClockKind.BUSINESS and self.within.whole_days:
            days = self.within.whole_days
            raise ValueError(
                f"'{self.within}' on a business clock is ambiguous: write business days as "
                f"'{days}bd', or business hours as '{days * 24}h'"
            )
        return self


class PrioritySpec(_Spec):
    id: Identifier
    name: Name
    description: str | None = None
    targets: dict[Metric, Target] = {}
    """Per metric (first_response, resolution, update): the promise. Missing: no SLA."""

    @field_validator("targets")
    @classmethod
    def _no_decision(cls, value: dict[Metric, Target]) -> dict[Metric, Target]:
        if Metric.DECISION in value:
            raise ValueError("'decision' is a deadline of a ticket type, not of a priority")
        return value


class TicketTypeSpec(_Spec):
    id: Identifier
    name: Name
    description: str | None = None
    sla_exempt: bool = False
    """No first-response or resolution SLA (000: new features)."""
    decision: Target | None = None
    """Deadline to tell the customer whether the request is viable (000: 10 business days)."""
    required_fields: list[Identifier] = []
    optional_fields: list[Identifier] = []
    default_priority: Identifier | None = None


class IntakeFieldKind(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    EMAIL = "email"
    PHONE = "phone"
    TAX_ID = "tax_id"
    FILE = "file"
    URL = "url"


class IntakeField(_Spec):
    """A piece of information a request must or may carry (004's NIT, XML, evidence...)."""

    id: Identifier
    label: LocalizedText
    kind: IntakeFieldKind = IntakeFieldKind.TEXT
    file_types: list[str] = []
    """For files: accepted media types, e.g. ``application/xml``."""


class ProductSpec(_Spec):
    id: Identifier
    name: Name
    versions: list[Name] = Field(min_length=1)
    """Released versions, oldest first."""
    supported_latest: Annotated[int, Field(ge=1)] | None = None
    """Only the newest N versions are supported (000: 2); empty means all."""

    def supported_versions(self) -> list[str]:
        """The versions support is given for, newest last."""
        if self.supported_latest is None:
            return list(self.versions)
        return list(self.versions[-self.supported_latest :])


class ScopeExclusion(_Spec):
    """Something support does not cover (custom development, third-party software...)."""

    id: Identifier
    name: Name
    description: str | None = None


class Subcategory(_Spec):
    """A subcategory whose choice sets the priority (004: 'Error 500 DIAN' → P1)."""

    id: Identifier
    name: Name
    priority: Identifier
    ticket_type: Identifier | None = None


class Modality(_Spec):
    """A contracted service modality with its own business calendar (003: 24/7 or 8/5)."""

    id: Identifier
    name: Name
    business_calendar: Identifier


class ContactChannel(_Spec):
    """A way customers reach the desk, with its hours and who may use it."""

    kind: Literal["portal", "email", "phone", "video_call", "chat", "whatsapp"]
    address: str | None = None
    calendar: Identifier | None = None
    """When the channel is attended; empty means whenever the desk is open."""
    priorities: list[Identifier] = []
    """Only for these priorities (an urgent line); empty means all."""
    note: str | None = None


class Lifecycle(_Spec):
    """How tickets move: when clocks start, what pauses them, reopening and closing."""

    clock_starts: ClockStart = ClockStart.REGISTRATION
    pause_in: list[TicketState] = [TicketState.AWAITING_CUSTOMER]
    reopen_window: Target | None = None
    """How long a resolved ticket may be reopened; empty: until it is closed."""
    on_reopen: Literal["resume", "restart"] = "resume"
    """The resolution clock after a reopen: continue with time used, or start afresh."""
    close_requires_confirmation: bool = True
    """A resolved ticket is closed once the customer confirms (001, 000)."""
    auto_close_after: Target | None = None
    """Without confirmation, a resolved ticket closes after this (000: expiry of the term)."""
    personal_data_retention: Duration | None = None
    """How long a closed ticket keeps its contact's personal data (calendar time, e.g.
    ``365d``); then it is erased the way a contact's erasure does (ADR 23). Empty: kept until
    the contact asks for erasure."""

    @field_validator("pause_in")
    @classmethod
    def _pausable(cls, value: list[TicketState]) -> list[TicketState]:
        allowed = {TicketState.AWAITING_CUSTOMER, TicketState.RESOLVED}
        if bad := [s.value for s in value if s not in allowed]:
            raise ValueError(f"clocks can pause only in awaiting_customer or resolved, not {bad}")
        return value


class Abandonment(_Spec):
    """When a silent customer's ticket is resolved and then closed (000, 004)."""

    inactivity: Target | None = None
    """No customer answer while awaiting them for this long → resolved as abandoned (000: 7d)."""
    grace_after_resolution: Target | None = None
    """Then this long for comments before it closes for good (000: 15bd)."""
    max_unanswered_contact_attempts: Annotated[int, Field(ge=1)] | None = None
    """The Nth unanswered attempt to get information closes the case (004: 4)."""
    notice_before_close: Duration | None = None
    """Warn the customer this long before an abandoned ticket closes."""


class ShareOfTarget(_Spec):
    """Escalate when this share of a target's time is used (e.g. half of the resolution time)."""

    share: Share
    of: Metric = Metric.RESOLUTION


class EscalationLevel(_Spec):
    level: Annotated[int, Field(ge=1, le=9)]
    name: Name
    after: ShareOfTarget | Target | None = None
    """Unresolved this long at the previous level → escalate here; level 1 has none."""
    notify: list[Identifier] = []
    """Groups told when a ticket reaches this level."""


class Escalation(_Spec):
    """Support levels and when an unresolved ticket moves up (002)."""

    etr_required: bool = True
    """Every escalation message carries an estimated time to recovery (002)."""
    levels: list[EscalationLevel] = Field(min_length=1)

    @field_validator("levels")
    @classmethod
    def _consecutive(cls, value: list[EscalationLevel]) -> list[EscalationLevel]:
        numbers = [lv.level for lv in value]
        if numbers != list(range(1, len(value) + 1)):
            raise ValueError(f"levels must be numbered 1, 2, 3... in order; got {numbers}")
        if value[0].after is not None:
            raise ValueError("level 1 is where tickets start: it takes no 'after'")
        if missing := [lv.level for lv in value[1:] if lv.after is None]:
            raise ValueError(f"levels {missing} need 'after': when to escalate to them")
        return value


class Group(_Spec):
    """People told together: a support level, supervisors, a product committee."""

    name: Name
    emails: list[Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")]] = []
    chat: str | None = None
    """Name of the chat destination (its webhook URL is a secret configured per deployment)."""


class Route(_Spec):
    """Which events reach which audiences over which channels."""

    events: list[str] = Field(min_length=1)
    """Event names (``ticket.opened``) or families (``sla.*``)."""
    notify: list[Audience] = Field(min_length=1)
    via: list[DeliveryChannel] = Field(min_length=1)

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        families = {name.split(".")[0] for name in EVENTS}
        for name in value:
            family, _, rest = name.partition(".")
            if rest == "*" and family in families:
                continue
            if name not in EVENTS:
                raise ValueError(f"unknown event {name!r}; known: {', '.join(sorted(EVENTS))}")
        return value

    def matches(self, event_name: str) -> bool:
        return event_name in self.events or f"{event_name.split('.')[0]}.*" in self.events


class CustomerChannel(_Spec):
    """The single agreed channel with each customer (002): its default and the choices."""

    default: DeliveryChannel = DeliveryChannel.EMAIL
    allowed: list[DeliveryChannel] = [DeliveryChannel.EMAIL]

    @model_validator(mode="after")
    def _default_allowed(self) -> CustomerChannel:
        if DeliveryChannel.AGREED in (self.default, *self.allowed):
            raise ValueError("'agreed' names this setting itself; choose email, whatsapp...")
        if self.default not in self.allowed:
            raise ValueError(f"the default {self.default.value!r} must be among 'allowed'")
        return self


class Notifications(_Spec):
    customer_channel: CustomerChannel = CustomerChannel()
    supervisors: list[Identifier] = []
    """Groups that are the 'supervisors' audience."""
    routes: list[Route] = []


class EmailIntake(_Spec):
    """How a request that arrives by email is filed: no form was filled, so the policy says
    which ticket type and priority it starts with (the agent reclassifies it if need be)."""

    ticket_type: Identifier
    priority: Identifier


class CountryHours(_Spec):
    country: Name
    time_zone: TimeZoneName


class SupportHours(_Spec):
    """Customer-facing hours, shown in each country's local time (000's table, derived)."""

    calendar: Identifier
    countries: list[CountryHours] = []


class SlaSettings(_Spec):
    warnings: list[Annotated[float, Field(gt=0, lt=1)]] = [0.75]
    """Shares of a target's time after which a warning goes out before the breach."""

    @field_validator("warnings")
    @classmethod
    def _ascending(cls, value: list[float]) -> list[float]:
        if value != sorted(set(value)):
            raise ValueError("warning thresholds must be distinct and ascending")
        return value
