"""Business time: when a support desk is open, and deadlines measured only in open time.

long: one class and its integer-microsecond helpers are one algorithm (unroll open spans,
add and measure open time); split, the daylight-saving argument below would span modules.

Every SLA promise in the seed policies ("1 business hour", "72 business hours", "10 business
days") is a duration of *open* time on a calendar: a time zone, weekly opening windows (split
shifts, different hours per weekday, ``24:00``), and closed days (official holidays plus the
vendor's own closures). This module is that arithmetic and nothing else: no I/O, no clock.

How it stays fast and exact
    The calendar is unrolled, one UTC chunk of a year at a time, into a sorted list of open
    intervals in integer microseconds since the Unix epoch, with a running total of open time
    at the end of each interval. A deadline is then two binary searches: the running total at
    ``start``, plus the duration, located back in the totals. A 10-business-day target costs the
    same as a 15-minute one (see ``bench/calendar.py``); see docs/adr/0003 for the reasoning.

How it stays correct across daylight-saving changes
    The open set is defined on the wall clock: the desk is open at instant ``t`` when the local
    date of ``t`` is a working day and the local time of ``t`` lies in one of that day's windows.
    The unrolling walks spans of constant UTC offset, within which local time is a plain shift
    of UTC time, so a skipped hour is never open and a repeated hour is open twice when a
    window covers it, exactly as a person reading the office clock would count.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

__all__ = ["BusinessCalendar", "ClosedDay", "NaiveDatetimeError", "Window"]

UTC = UTC
Window = tuple[time, time]
"""An opening window in local wall time, ``(start, end)``; an ``end`` of ``00:00`` means 24:00."""

_US = 1_000_000
_DAY_US = 86_400 * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday == 0)
# The table grows by chunks this long. A year keeps holiday lookups batched per year and the
# table small (a Mon-Fri single-shift calendar is ~260 intervals a year).
_CHUNK_US = 366 * _DAY_US
# Offsets are sampled this often to find daylight-saving transitions inside a chunk; real
# zones never change offset twice within six hours.
_OFFSET_PROBE_US = 6 * 3600 * _US
# A calendar that yields no open time for this many consecutive chunks is treated as never
# open, rather than searching forever for a deadline that does not exist.
_MAX_EMPTY_CHUNKS = 8


class ClosedDay(NamedTuple):
    """Why a whole local date is closed: ``kind`` is ``holiday`` (official) or
    ``vendor_closure``; ``name`` as people call it ("Día de la Revolución"), when known."""

    kind: str
    name: str | None = None


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone was given where an instant is required."""


def _micros(value: datetime, name: str) -> int:
    """Microseconds since the epoch of an aware datetime; naive ones are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name} must be timezone-aware (got naive {value.isoformat()}); "
            "attach a zone, e.g. datetime(..., tzinfo=ZoneInfo('America/Mexico_City'))"
        )
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _duration_micros(value: timedelta) -> int:
    micros = (value.days * 86_400 + value.seconds) * _US + value.microseconds
    if micros < 0:
        raise ValueError(f"duration must not be negative (got {value})")
    return micros


def _instant(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _window_micros(windows: Iterable[Window], label: str) -> tuple[tuple[int, int], ...]:
    """Validate windows of one day and turn them into microsecond offsets from midnight."""
    spans: list[tuple[int, int]] = []
    for start, end in windows:
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"{label}: window times are local wall times, without a tzinfo")
        lo = ((start.hour * 60 + start.minute) * 60 + start.second) * _US + start.microsecond
        hi = ((end.hour * 60 + end.minute) * 60 + end.second) * _US + end.microsecond
        if hi == 0:
            hi = _DAY_US  # 00:00 as an end is 24:00
        if hi <= lo:
            raise ValueError(f"{label}: window {start:%H:%M}-{end:%H:%M} ends before it starts")
        spans.append((lo, hi))
    spans.sort()
    for (_, prev_end), (next_start, _) in itertools.pairwise(spans):
        if next_start < prev_end:
            raise ValueError(f"{label}: opening windows overlap")
    return tuple(spans)


class BusinessCalendar:
    """Open time of a support desk, and deadlines counted in it.

    ``weekly`` maps a weekday (Monday == 0) to that day's windows; a missing weekday is closed.
    ``holidays`` is any container of local dates (a ``set``, or a ``holidays`` package object,
    which computes years lazily); such a day is closed, unless ``holiday_windows`` gives the
    hours of a holiday line (as 004's P1 line on holidays).

    All methods take aware datetimes (any zone) and return aware datetimes in UTC.
    """

    __slots__ = (
        "_cum_end",
        "_ends",
        "_hi",
        "_holiday_cache",
        "_holiday_spans",
        "_holidays",
        "_lo",
        "_ready",
        "_starts",
        "_weekly_spans",
        "_zone",
        "time_zone",
    )

    def __init__(
        self,
        time_zone: str,
        weekly: Mapping[int, Sequence[Window]],
        holidays: Container[date] = frozenset(),
        *,
        holiday_windows: Sequence[Window] = (),
    ) -> None:
        self.time_zone = time_zone
        self._zone = ZoneInfo(time_zone)
        for weekday in weekly:
            if weekday not in range(7):
                raise ValueError(f"weekday must be 0 (Monday) .. 6 (Sunday), got {weekday}")
        self._weekly_spans = tuple(
            _window_micros(weekly.get(day, ()), f"weekday {day}") for day in range(7)
        )
        self._holiday_spans = _window_micros(holiday_windows, "holiday windows")
        if not any(self._weekly_spans) and not self._holiday_spans:
            raise ValueError("a business calendar needs at least one opening window")
        self._holidays = holidays
        self._holiday_cache: dict[int, bool] = {}
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._cum_end: list[int] = []
        self._lo = self._hi = 0
        self._ready = False

    @classmethod
    def always_open(cls, time_zone: str = "UTC") -> BusinessCalendar:
        """A 24/7 calendar: business time is elapsed time (calendar clocks, 24/7 contracts)."""
        return cls(time_zone, {day: [(time(0), time(0))] for day in range(7)})

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.time_zone!r})"

    # -- queries ---------------------------------------------------------------------------

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant by which ``duration`` of business time has elapsed since ``start``.

        A deadline may therefore be a closing time: on a Mon-Fri 08:30-18:00 calendar,
        Friday 08:30 plus 9.5 hours is Friday 18:00, not Monday 08:30.
        """
        at = _micros(start, "start")
        need = _duration_micros(duration)
        if need == 0:
            return _instant(at)
        target = self._position(at) + need
        cum_end = self._cum_end
        if not cum_end or cum_end[-1] < target:
            self._extend_until(lambda: bool(self._cum_end) and self._cum_end[-1] >= target)
        j = bisect_left(cum_end, target)
        end = self._ends[j]
        return _instant(end - (cum_end[j] - target))

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time in ``[start, end)``; zero when ``end`` is not after ``start``."""
        lo = _micros(start, "start")
        hi = _micros(end, "end")
        if hi <= lo:
            return timedelta(0)
        self._cover(lo)
        self._cover(hi)
        return timedelta(microseconds=self._position(hi) - self._position(lo))

    def is_open(self, at: datetime) -> bool:
        """Whether the desk is open at ``at``."""
        instant = _micros(at, "at")
        self._cover(instant)
        i = bisect_right(self._starts, instant) - 1
        return i >= 0 and instant < self._ends[i]

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, else the instant the desk next opens."""
        instant = _micros(at, "at")
        self._cover(instant)
        i = bisect_right(self._starts, instant) - 1
        if i >= 0 and instant < self._ends[i]:
            return _instant(instant)
        self._extend_until(lambda: i + 1 < len(self._starts))
        return _instant(self._starts[i + 1])

    def open_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The open spans inside ``[start, end)``, clipped to it, oldest first."""
        lo = _micros(start, "start")
        hi = _micros(end, "end")
        if hi <= lo:
            return []
        self._cover(lo)
        self._cover(hi)
        first = max(bisect_right(self._starts, lo) - 1, 0)
        spans = []
        for i in range(first, bisect_left(self._starts, hi)):
            s, e = max(self._starts[i], lo), min(self._ends[i], hi)
            if s < e:
                spans.append((_instant(s), _instant(e)))
        return spans

    def closure_reason(self, day: date) -> ClosedDay | None:
        """Why the local date ``day`` is a closed day, or None when it is not one (a weekend
        is not: it is simply a weekday without windows). Named when the closed days can say
        (``closure(day)``, as the policy's do), so a receipt can tell a disputed Monday was
        "Día de la Revolución"; otherwise an unnamed holiday."""
        if day not in self._holidays:
            return None
        explain = getattr(self._holidays, "closure", None)
        found = explain(day) if callable(explain) else None
        return found if isinstance(found, ClosedDay) else ClosedDay("holiday")

    # -- the unrolled table ----------------------------------------------------------------

    def _position(self, instant: int) -> int:
        """Business microseconds from the start of the table up to ``instant``."""
        self._cover(instant)
        i = bisect_right(self._starts, instant) - 1
        if i < 0:
            return 0
        end = self._ends[i]
        return self._cum_end[i] - (end - instant if instant < end else 0)

    def _cover(self, instant: int) -> None:
        if not self._ready:
            self._lo = self._hi = (instant // _CHUNK_US) * _CHUNK_US
            self._ready = True
        while instant >= self._hi:
            self._extend_forward()
        while instant < self._lo:
            self._extend_backward()

    def _extend_forward(self) -> None:
        """Unroll the next chunk after the table and append it."""
        spans = self._unroll(self._hi, self._hi + _CHUNK_US)
        self._hi += _CHUNK_US
        self._append(spans)

    def _extend_until(self, enough: Callable[[], bool]) -> None:
        """Grow the table forward until ``enough()``; a calendar that never opens is an error."""
        empty_chunks = 0
        while not enough():
            known = len(self._cum_end)
            self._extend_forward()
            empty_chunks = empty_chunks + 1 if len(self._cum_end) == known else 0
            if empty_chunks > _MAX_EMPTY_CHUNKS:
                raise ValueError(f"{self!r} has no open time for years; the deadline never comes")

    def _extend_backward(self) -> None:
        """Unroll the chunk before the table; positions are relative, so rebuild the totals."""
        lo = self._lo - _CHUNK_US
        spans = self._unroll(lo, self._lo) + list(zip(self._starts, self._ends, strict=True))
        self._starts, self._ends, self._cum_end = [], [], []
        self._lo = lo
        self._append(spans)

    def _append(self, spans: Iterable[tuple[int, int]]) -> None:
        starts, ends, cum_end = self._starts, self._ends, self._cum_end
        total = cum_end[-1] if cum_end else 0
        for s, e in spans:
            if ends and s <= ends[-1]:  # continues across a chunk edge (24/7, night shifts)
                total += e - ends[-1]
                ends[-1] = e
                cum_end[-1] = total
            else:
                total += e - s
                starts.append(s)
                ends.append(e)
                cum_end.append(total)

    def _unroll(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """Open spans in the UTC range ``[lo, hi)``, sorted; touching spans are merged."""
        spans: list[tuple[int, int]] = []
        for seg_lo, seg_hi, offset in self._constant_offset_spans(lo, hi):
            wall_lo, wall_hi = seg_lo + offset, seg_hi + offset
            for day in range(wall_lo // _DAY_US, (wall_hi - 1) // _DAY_US + 1):
                midnight = day * _DAY_US
                for w_start, w_end in self._day_spans(day):
                    s = max(midnight + w_start, wall_lo) - offset
                    e = min(midnight + w_end, wall_hi) - offset
                    if s >= e:
                        continue
                    if spans and s <= spans[-1][1]:
                        spans[-1] = (spans[-1][0], max(e, spans[-1][1]))
                    else:
                        spans.append((s, e))
        return spans

    def _day_spans(self, day: int) -> tuple[tuple[int, int], ...]:
        """Windows of the local day ``day`` (days since 1970-01-01), holidays considered."""
        closed = self._holiday_cache.get(day)
        if closed is None:
            closed = date.fromordinal(_EPOCH_ORDINAL + day) in self._holidays
            self._holiday_cache[day] = closed
        if closed:
            return self._holiday_spans
        return self._weekly_spans[(day + _EPOCH_WEEKDAY) % 7]

    def _offset(self, instant: int) -> int:
        local = _instant(instant).astimezone(self._zone)
        offset = local.utcoffset()
        assert offset is not None  # ZoneInfo always knows its offset
        return (offset.days * 86_400 + offset.seconds) * _US + offset.microseconds

    def _constant_offset_spans(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """Split ``[lo, hi)`` at the zone's UTC-offset changes: ``(start, end, offset)``."""
        spans: list[tuple[int, int, int]] = []
        seg_start, seg_offset = lo, self._offset(lo)
        probe = lo
        while probe < hi:
            nxt = min(probe + _OFFSET_PROBE_US, hi - 1)
            nxt_offset = self._offset(nxt)
            if nxt_offset != seg_offset:
                # The change lies in (probe, nxt]; bisect to the microsecond.
                a, b = probe, nxt
                while b - a > 1:
                    mid = (a + b) // 2
                    if self._offset(mid) == seg_offset:
                        a = mid
                    else:
                        b = mid
                spans.append((seg_start, b, seg_offset))
                seg_start, seg_offset = b, nxt_offset
            if nxt == hi - 1:
                break
            probe = nxt
        spans.append((seg_start, hi, seg_offset))
        return spans
