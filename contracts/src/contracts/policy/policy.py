"""A whole support policy, its cross-checks, and the questions services ask of it.

``SupportPolicy`` is the root of a policy file. Beyond the data it answers, in domain terms,
what every service needs: the calendar a target is counted on, a ticket's deadline for a
metric, which versions are supported, which priority a subcategory implies, and the desk's
hours in each customer country's local time.

long: one model answers every question the services ask of a policy (lookups, time, the
ticket desk's rules); split across modules, a newcomer would have to guess where each lives.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from pydantic import AwareDatetime, Field, PrivateAttr, StringConstraints, model_validator

from contracts.calendar import BusinessCalendar, ClosedDay
from contracts.policy.models import (
    WEEKDAYS,
    Abandonment,
    CalendarSpec,
    ContactChannel,
    EmailIntake,
    Escalation,
    Group,
    Identifier,
    IntakeField,
    Lifecycle,
    Modality,
    Name,
    Notifications,
    PrioritySpec,
    ProductSpec,
    ScopeExclusion,
    ShareOfTarget,
    SlaSettings,
    Subcategory,
    SupportHours,
    Target,
    TicketTypeSpec,
    _Spec,
    parse_window,
)
from contracts.vocabulary import ClockKind, Metric

SCHEMA_VERSION = 1
DEFAULT_SUPPORT_LEVELS = 3
"""Support levels of a policy without an ``escalation`` section: the classic first line,
specialists and engineering (levels 1-3)."""


class ClosedDays:
    """Official holidays of a country (computed lazily per year) plus the vendor's closures."""

    def __init__(self, spec: CalendarSpec) -> None:
        source = spec.holidays
        self.closures = frozenset(source.closures if source else ())
        self.official: Any = None
        if source and source.country:
            # Spanish names where the package has them; others fall back to its default.
            self.official = holidays_lib.country_holidays(
                source.country, subdiv=source.subdivision, language="es"
            )

    def __contains__(self, day: object) -> bool:
        return day in self.closures or (self.official is not None and day in self.official)

    def name(self, day: date) -> str | None:
        """What the day is called, for people reading a deadline."""
        if self.official is not None and day in self.official:
            return str(self.official.get(day))
        return "Cierre del proveedor" if day in self.closures else None

    def closure(self, day: date) -> ClosedDay | None:
        """Why the day is closed (``BusinessCalendar.closure_reason`` asks): an official holiday
        by its Spanish name, or a vendor closure (the format gives closures no name)."""
        if self.official is not None and day in self.official:
            return ClosedDay("holiday", str(self.official.get(day)))
        return ClosedDay("vendor_closure") if day in self.closures else None


class SupportPolicy(_Spec):
    """One vendor's support policy (see README, "Writing a policy file")."""

    schema_version: Annotated[int, Field(ge=1, le=SCHEMA_VERSION)] = SCHEMA_VERSION
    id: Identifier
    name: Name
    vendor: Name
    source: str | None = None
    """The document this policy transcribes."""
    case_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,9}$")]
    """Prefix of human case numbers, e.g. ``BTW`` → ``BTW-000123``."""
    default_locale: Annotated[str, StringConstraints(pattern=r"^(es|en)$")] = "es"
    calendars: dict[Identifier, CalendarSpec] = Field(min_length=1)
    business_calendar: Identifier
    """The calendar business clocks count on unless a target or modality names another."""
    modalities: list[Modality] = []
    support_hours: SupportHours | None = None
    contact_channels: list[ContactChannel] = []
    groups: dict[Identifier, Group] = {}
    lifecycle: Lifecycle = Lifecycle()
    sla: SlaSettings = SlaSettings()
    priorities: list[PrioritySpec] = Field(min_length=1)
    ticket_types: list[TicketTypeSpec] = Field(min_length=1)
    intake_fields: list[IntakeField] = []
    required_fields: list[Identifier] = []
    """Fields every request must carry, whatever its type."""
    products: list[ProductSpec] = []
    out_of_scope: list[ScopeExclusion] = []
    subcategories: list[Subcategory] = []
    abandonment: Abandonment = Abandonment()
    escalation: Escalation | None = None
    notifications: Notifications = Notifications()
    email_intake: EmailIntake | None = None
    """Type and priority of requests by email; empty: the first type at its default priority
    (or the policy's last priority)."""
    version: Annotated[int, Field(ge=1)] = 1
    """Which version of this policy the file is: a changed promise is a new version, in a file
    of its own beside the earlier ones (``000-bitam.v2.yaml``), never an edit of history."""
    effective_from: AwareDatetime | None = None
    """From when this version governs: tickets opened from this instant on. Tickets opened
    earlier keep the version they were opened under, to the end (their clocks, deadlines and
    outcomes never change with a later version). Empty: since always (a first version)."""

    _calendars: dict[str, BusinessCalendar] = PrivateAttr(default_factory=dict)
    _versions: tuple[SupportPolicy, ...] = PrivateAttr(default=())

    def in_force(self, at: datetime) -> SupportPolicy:
        """The version of this policy that governs what starts at ``at`` (a ticket opened
        then): the latest whose ``effective_from`` is not after ``at``."""
        chosen = self
        for version in self._versions or (self,):
            if version.effective_from is None or version.effective_from <= at:
                chosen = version
        return chosen

    @property
    def versions(self) -> tuple[SupportPolicy, ...]:
        """Every version of this policy, oldest first (just this one when it has no other)."""
        return self._versions or (self,)

    def with_versions(self, versions: tuple[SupportPolicy, ...]) -> SupportPolicy:
        """Tie the versions of one policy together (the loader does), oldest first."""
        for version in versions:
            version._versions = versions
        return self

    # -- cross-references ------------------------------------------------------------------

    @model_validator(mode="after")
    def _references(self) -> SupportPolicy:
        problems: list[str] = []
        calendars = set(self.calendars)
        priorities = _unique(problems, "priorities", [p.id for p in self.priorities])
        types = _unique(problems, "ticket_types", [t.id for t in self.ticket_types])
        fields = _unique(problems, "intake_fields", [f.id for f in self.intake_fields])
        _unique(problems, "subcategories", [s.id for s in self.subcategories])
        _unique(problems, "modalities", [m.id for m in self.modalities])
        _unique(problems, "products", [p.id for p in self.products])

        def need(kind: str, value: str | None, known: set[str], where: str) -> None:
            if value is not None and value not in known:
                listed = ", ".join(sorted(known)) or "none defined"
                problems.append(f"{where}: unknown {kind} {value!r} (known: {listed})")

        need("calendar", self.business_calendar, calendars, "business_calendar")
        for i, m in enumerate(self.modalities):
            need("calendar", m.business_calendar, calendars, f"modalities[{i}].business_calendar")
        if self.support_hours:
            need("calendar", self.support_hours.calendar, calendars, "support_hours.calendar")
        for i, ch in enumerate(self.contact_channels):
            need("calendar", ch.calendar, calendars, f"contact_channels[{i}].calendar")
            for p in ch.priorities:
                need("priority", p, priorities, f"contact_channels[{i}].priorities")
        for where, target in self._targets():
            need("calendar", target.calendar, calendars, f"{where}.calendar")
        for i, t in enumerate(self.ticket_types):
            for f in (*t.required_fields, *t.optional_fields):
                need("intake field", f, fields, f"ticket_types[{i}]")
            need("priority", t.default_priority, priorities, f"ticket_types[{i}].default_priority")
            if t.sla_exempt and t.decision is None:
                problems.append(f"ticket_types[{i}]: an SLA-exempt type needs a 'decision' target")
        for f in self.required_fields:
            need("intake field", f, fields, "required_fields")
        for i, s in enumerate(self.subcategories):
            need("priority", s.priority, priorities, f"subcategories[{i}].priority")
            need("ticket type", s.ticket_type, types, f"subcategories[{i}].ticket_type")
        groups = set(self.groups)
        if self.escalation:
            for i, lv in enumerate(self.escalation.levels):
                for g in lv.notify:
                    need("group", g, groups, f"escalation.levels[{i}].notify")
        for g in self.notifications.supervisors:
            need("group", g, groups, "notifications.supervisors")
        if self.email_intake:
            need("ticket type", self.email_intake.ticket_type, types, "email_intake.ticket_type")
            need("priority", self.email_intake.priority, priorities, "email_intake.priority")
        if problems:
            # One line per problem, each starting with its own field path (see loading.py).
            raise ValueError("\n".join(problems))
        return self

    def _targets(self) -> list[tuple[str, Target]]:
        found: list[tuple[str, Target]] = []
        for i, p in enumerate(self.priorities):
            found += [(f"priorities[{i}].targets.{m.value}", t) for m, t in p.targets.items()]
        for i, t in enumerate(self.ticket_types):
            if t.decision:
                found.append((f"ticket_types[{i}].decision", t.decision))
        for name in ("inactivity", "grace_after_resolution"):
            if (target := getattr(self.abandonment, name)) is not None:
                found.append((f"abandonment.{name}", target))
        for name in ("reopen_window", "auto_close_after"):
            if (target := getattr(self.lifecycle, name)) is not None:
                found.append((f"lifecycle.{name}", target))
        if self.escalation:
            for i, lv in enumerate(self.escalation.levels):
                if isinstance(lv.after, Target):
                    found.append((f"escalation.levels[{i}].after", lv.after))
        return found

    # -- lookups ---------------------------------------------------------------------------

    def priority(self, priority_id: str) -> PrioritySpec:
        for p in self.priorities:
            if p.id == priority_id:
                return p
        raise KeyError(f"policy {self.id!r} has no priority {priority_id!r}")

    def ticket_type(self, type_id: str) -> TicketTypeSpec:
        for t in self.ticket_types:
            if t.id == type_id:
                return t
        raise KeyError(f"policy {self.id!r} has no ticket type {type_id!r}")

    def priority_for_subcategory(self, subcategory_id: str) -> str | None:
        """The priority a subcategory implies (004), or None when it implies none."""
        return next((s.priority for s in self.subcategories if s.id == subcategory_id), None)

    def required_fields_for(self, type_id: str) -> list[str]:
        """Intake fields a request of this type must carry: policy-wide plus the type's own."""
        own = self.ticket_type(type_id).required_fields
        return list(dict.fromkeys([*self.required_fields, *own]))

    def supported_versions(self, product_id: str) -> list[str]:
        for product in self.products:
            if product.id == product_id:
                return product.supported_versions()
        raise KeyError(f"policy {self.id!r} has no product {product_id!r}")

    # -- rules the ticket desk applies -------------------------------------------------------

    def highest_level(self) -> int:
        """The highest support level a ticket can be escalated to: the policy's last escalation
        level, or ``DEFAULT_SUPPORT_LEVELS`` when it leaves escalation out (no automatic
        escalation then, but agents still escalate by hand)."""
        return len(self.escalation.levels) if self.escalation else DEFAULT_SUPPORT_LEVELS

    def reopen_until(self, resolved_at: datetime, modality: str | None = None) -> datetime | None:
        """Until when a ticket resolved at ``resolved_at`` may be reopened; None: until it is
        closed. The window counts on the calendar of its target (and the ticket's modality)."""
        window = self.lifecycle.reopen_window
        return None if window is None else self.due(window, resolved_at, modality)

    def email_classification(self) -> tuple[str, str | None]:
        """The ticket type and priority a request by email starts with (no form was filled):
        the policy's ``email_intake``, else its first type at that type's default priority, or
        at the policy's last (least urgent) priority when the type has none. The agent
        reclassifies it if need be."""
        if self.email_intake is not None:
            return self.email_intake.ticket_type, self.email_intake.priority
        kind = self.ticket_types[0]
        return kind.id, None if kind.default_priority else self.priorities[-1].id

    # -- time ------------------------------------------------------------------------------

    def calendar(self, name: str) -> BusinessCalendar:
        """The named calendar, built once (its holiday years are computed lazily)."""
        built = self._calendars.get(name)
        if built is None:
            spec = self.calendars[name]
            built = BusinessCalendar(
                spec.time_zone,
                spec.weekly_windows(),
                ClosedDays(spec),
                holiday_windows=[parse_window(w) for w in spec.holiday_hours],
            )
            self._calendars[name] = built
        return built

    def business_day(self, name: str) -> timedelta:
        """How long one business day ('bd') is on a calendar: stated, else the commonest day."""
        spec = self.calendars[name]
        if spec.business_day is not None:
            return spec.business_day.resolve(timedelta(0))
        lengths = [
            sum((_length(s, e) for s, e in windows), timedelta(0))
            for windows in spec.weekly_windows().values()
        ]
        counts = Counter(length for length in lengths if length)
        return max(counts, key=lambda length: (counts[length], length))

    def business_calendar_for(self, modality: str | None = None) -> str:
        """The calendar business clocks use under a contracted modality (003: 24x7 or 8x5)."""
        if modality is None:
            return self.business_calendar
        for m in self.modalities:
            if m.id == modality:
                return m.business_calendar
        raise KeyError(f"policy {self.id!r} has no modality {modality!r}")

    def clock(self, target: Target, modality: str | None = None) -> BusinessCalendar:
        """The calendar a target is counted on: 24/7 for calendar clocks."""
        if target.clock is ClockKind.CALENDAR:
            zone = self.calendars[self.business_calendar].time_zone
            key = f"__always_open__{zone}"
            if key not in self._calendars:
                self._calendars[key] = BusinessCalendar.always_open(zone)
            return self._calendars[key]
        return self.calendar(target.calendar or self.business_calendar_for(modality))

    def duration(self, target: Target, modality: str | None = None) -> timedelta:
        """The target as a length of (business or calendar) time."""
        if not target.within.is_business_days:
            return target.within.fixed
        name = target.calendar or self.business_calendar_for(modality)
        return target.within.resolve(self.business_day(name))

    def due(self, target: Target, start: datetime, modality: str | None = None) -> datetime:
        """When a target started at ``start`` falls due (UTC)."""
        return self.clock(target, modality).add(start, self.duration(target, modality))

    def target(self, metric: Metric, *, priority: str, ticket_type: str) -> Target | None:
        """The promise for a metric on a ticket, or None when no SLA applies."""
        kind = self.ticket_type(ticket_type)
        if metric is Metric.DECISION:
            return kind.decision
        if kind.sla_exempt:
            return None
        return self.priority(priority).targets.get(metric)

    def deadline(
        self,
        metric: Metric,
        *,
        priority: str,
        ticket_type: str,
        start: datetime,
        modality: str | None = None,
    ) -> datetime | None:
        """When a ticket's metric is due if its clock ran from ``start`` without pause."""
        target = self.target(metric, priority=priority, ticket_type=ticket_type)
        return None if target is None else self.due(target, start, modality)

    def escalation_delay(
        self, level: int, *, priority: str, ticket_type: str, modality: str | None = None
    ) -> tuple[timedelta, BusinessCalendar] | None:
        """How long a ticket may stay unresolved before moving to ``level``, and on which clock."""
        if self.escalation is None or not 2 <= level <= len(self.escalation.levels):
            return None
        after = self.escalation.levels[level - 1].after
        if isinstance(after, ShareOfTarget):
            target = self.target(after.of, priority=priority, ticket_type=ticket_type)
            if target is None:
                return None
            return self.duration(target, modality) * after.share, self.clock(target, modality)
        assert after is not None  # checked on load: levels above 1 have 'after'
        return self.duration(after, modality), self.clock(after, modality)

    def support_hours_table(self, week_of: date) -> list[dict[str, Any]]:
        """The desk's hours as each listed country sees them (000's table), for one week.

        Rows are keyed by the office's weekday (``mon``..``sun``), as the seed's table is.

        Derived from the calendar's zone, so it stays right when a country changes its
        offset or daylight-saving rules; the week matters for exactly that reason.
        """
        if self.support_hours is None:
            return []
        cal = self.calendar(self.support_hours.calendar)
        home = ZoneInfo(self.calendars[self.support_hours.calendar].time_zone)
        monday = week_of - timedelta(days=week_of.weekday())
        spans: list[tuple[str, datetime, datetime]] = []
        for offset, day in enumerate(WEEKDAYS):  # clipped per office day, so 24/7 reads 00-24
            midnight = datetime.combine(monday + timedelta(days=offset), time(0), home)
            next_midnight = datetime.combine(monday + timedelta(days=offset + 1), time(0), home)
            spans += [(day, s, e) for s, e in cal.open_intervals(midnight, next_midnight)]
        rows = []
        for country in self.support_hours.countries:
            zone = ZoneInfo(country.time_zone)
            days: dict[str, list[str]] = {}
            for day, s, e in spans:
                local_s, local_e = s.astimezone(zone), e.astimezone(zone)
                end = "24:00" if local_e.time() == time(0) else f"{local_e:%H:%M}"
                days.setdefault(day, []).append(f"{local_s:%H:%M}-{end}")
            rows.append({"country": country.country, "time_zone": country.time_zone, "hours": days})
        return rows


def _unique(problems: list[str], where: str, ids: list[str]) -> set[str]:
    if dupes := sorted(i for i, n in Counter(ids).items() if n > 1):
        problems.append(f"{where}: ids must be unique, repeated: {', '.join(dupes)}")
    return set(ids)


def _length(start: time, end: time) -> timedelta:
    end_h = 24 if end == time(0) else end.hour
    return timedelta(hours=end_h - start.hour, minutes=end.minute - start.minute)
