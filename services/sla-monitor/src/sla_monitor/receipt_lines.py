"""The lines of an SLA receipt, and how a calendar explains a stretch of a running clock.

A running clock counts its calendar's open time and nothing else; a receipt shows both: the
open spans that counted, and each closed stretch between them with the reason a person would
give — the night, the weekend, a holiday by its name, the vendor's own closure. Pauses and
retargets come from the ticket's events (``receipt.py``); this module only knows calendars.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from contracts.calendar import BusinessCalendar
from contracts.events import Actor
from contracts.vocabulary import TicketState


class Why(StrEnum):
    """Why a stretch inside a clock's measured period did not count."""

    NIGHT = "night"
    """Outside the day's opening windows (evenings, early mornings, a split shift's break)."""
    WEEKEND = "weekend"
    DAY_OFF = "day_off"
    """A weekday without hours on this calendar."""
    HOLIDAY = "holiday"
    VENDOR_CLOSURE = "vendor_closure"
    PAUSE = "pause"
    """The clock was stopped by the ticket's state (awaiting the customer, resolved)."""
    NO_TARGET = "no_target"
    """The ticket's type or priority had no target for this metric at the time."""


@dataclass(frozen=True)
class Counted:
    """Open time while the clock ran: it all counts (``business`` is its length)."""

    start: datetime
    end: datetime

    @property
    def business(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class Skipped:
    """A stretch that did not count, with its reason; ``name`` is a holiday's or closure's,
    ``by`` and ``because`` say who paused the clock and why (the request, the summary)."""

    start: datetime
    end: datetime
    why: Why
    name: str | None = None
    state: TicketState | None = None
    by: Actor | None = None
    because: str | None = None


@dataclass(frozen=True)
class Retarget:
    """A priority (or type) change while the clock was live: a new target, the time kept."""

    at: datetime
    from_priority: str
    to_priority: str
    from_target: timedelta | None
    to_target: timedelta | None
    kept: timedelta
    deadline: datetime | None
    reason: str


Line = Counted | Skipped | Retarget


def explain(calendar: BusinessCalendar, start: datetime, end: datetime) -> Iterator[Line]:
    """``[start, end)`` on a running clock: its open spans, and the closed stretches between
    them split at local midnights, each with its reason."""
    cursor = start
    for open_start, open_end in calendar.open_intervals(start, end):
        if cursor < open_start:
            yield from closed_stretches(calendar, cursor, open_start)
        yield Counted(open_start, open_end)
        cursor = open_end
    if cursor < end:
        yield from closed_stretches(calendar, cursor, end)


def closed_stretches(
    calendar: BusinessCalendar, start: datetime, end: datetime
) -> Iterator[Skipped]:
    """A closed stretch, one piece per local day: each day is closed for its own reason."""
    zone = ZoneInfo(calendar.time_zone)
    cursor = start
    while cursor < end:
        day = cursor.astimezone(zone).date()
        midnight = datetime.combine(day + timedelta(days=1), time(0), zone)
        piece_end = min(midnight, end)
        why, name = day_closed(calendar, day, zone)
        yield Skipped(cursor, piece_end, why, name=name)
        cursor = piece_end


def day_closed(calendar: BusinessCalendar, day: date, zone: ZoneInfo) -> tuple[Why, str | None]:
    """Why a closed stretch of the local date ``day`` is closed: the day is a holiday or a
    vendor closure; else it has no hours (a weekend, a weekday off); else it is outside them."""
    closed = calendar.closure_reason(day)
    if closed is not None:
        kind = Why.VENDOR_CLOSURE if closed.kind == Why.VENDOR_CLOSURE else Why.HOLIDAY
        return kind, closed.name
    midnight = datetime.combine(day, time(0), zone)
    if not calendar.open_intervals(
        midnight, datetime.combine(day + timedelta(days=1), time(0), zone)
    ):
        return (Why.WEEKEND if day.weekday() >= 5 else Why.DAY_OFF), None
    return Why.NIGHT, None


def add_line(lines: list[Line], line: Line) -> None:
    """Append, joining a line to the previous one when it simply continues it (an event that
    changed nothing for this clock does not cut a span or a night in two)."""
    last = lines[-1] if lines else None
    if isinstance(line, Counted) and isinstance(last, Counted) and last.end == line.start:
        lines[-1] = Counted(last.start, line.end)
    elif (
        isinstance(line, Skipped)
        and isinstance(last, Skipped)
        and last.end == line.start
        and (last.why, last.name, last.state, last.by, last.because)
        == (line.why, line.name, line.state, line.by, line.because)
    ):
        lines[-1] = Skipped(
            last.start, line.end, line.why, line.name, line.state, line.by, line.because
        )
    else:
        lines.append(line)
