"""The business calendar against a brute-force model of its own definition.

``contracts.calendar`` unrolls a calendar into a table of UTC intervals and answers queries with
binary searches; these tests check it against the rule it documents, computed the slow way:
the desk is open at instant ``t`` iff the local date of ``t`` is not a holiday (on holidays the
holiday windows apply) and the local wall time of ``t`` lies in one of that weekday's
``[start, end)`` windows. The reference below decides that for one instant from the wall clock,
and counts open time by stepping one minute at a time (every window boundary is on a 15-minute
grid and every UTC-offset change in these zones is on the hour, so openness is constant within
each minute of the grid).

Calendars are random: zones with and without daylight saving (Santiago changes at local
midnight), split shifts, touching windows, 24:00 ends, holidays near the start, and sometimes a
holiday line. Starts fall in 2026, often close to a DST change or to an edge of the library's
internal one-year table chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contracts.calendar import BusinessCalendar, NaiveDatetimeError

ZONES = [
    "UTC",
    "America/Bogota",
    "America/Mexico_City",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/New_York",
    "Europe/London",
    "America/Asuncion",
]
# DST changes in 2026 (New York, London, Santiago at local midnight, Asuncion's old rule) and
# 2026-02-12, where one of the library's 366-day table chunks (counted from 1970) begins.
TRICKY_DATES = [
    date(2026, 2, 12),
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 9, 6),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
]
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY_MINUTES = 24 * 60
QUARTERS_PER_DAY = DAY_MINUTES // 15
# Holidays are drawn this many days around the start, where the queries look.
HOLIDAY_DAYS = range(-3, 36)
# The brute force gives up (and the example is rejected) after this many one-minute steps.
MAX_STEPS = 70 * DAY_MINUTES
MIN_WEEKLY_MINUTES = 4 * 60

MinuteWindow = tuple[int, int]
"""A window in minutes after local midnight, ``[start, end)``, ``end`` up to 1440."""


@dataclass(frozen=True)
class Spec:
    """A calendar in plain data, read by both the reference and ``BusinessCalendar``."""

    zone: str
    weekly: tuple[tuple[MinuteWindow, ...], ...]  # index = weekday, Monday == 0
    holidays: frozenset[date]
    holiday_windows: tuple[MinuteWindow, ...]

    def calendar(self) -> BusinessCalendar:
        weekly = {day: _times(windows) for day, windows in enumerate(self.weekly) if windows}
        return BusinessCalendar(
            self.zone, weekly, set(self.holidays), holiday_windows=_times(self.holiday_windows)
        )

    def weekly_minutes(self) -> int:
        return sum(end - start for windows in self.weekly for start, end in windows)


def _clock(minutes: int) -> time:
    return time(0) if minutes == DAY_MINUTES else time(minutes // 60, minutes % 60)


def _times(windows: tuple[MinuteWindow, ...]) -> list[tuple[time, time]]:
    return [(_clock(start), _clock(end)) for start, end in windows]


# -- the reference ---------------------------------------------------------------------------


def reference_is_open(spec: Spec, instant: datetime) -> bool:
    """Open iff the local wall time lies in a window of the local day (holidays considered)."""
    local = instant.astimezone(ZoneInfo(spec.zone))
    windows = spec.holiday_windows if local.date() in spec.holidays else None
    if windows is None:
        windows = spec.weekly[local.weekday()]
    wall = ((local.hour * 60 + local.minute) * 60 + local.second) * 10**6 + local.microsecond
    return any(start * 60 * 10**6 <= wall < end * 60 * 10**6 for start, end in windows)


def reference_add(spec: Spec, start: datetime, minutes: int) -> datetime | None:
    """The end of the ``minutes``-th open minute from ``start``; None past ``MAX_STEPS``."""
    if minutes == 0:
        return start
    counted = 0
    at = start
    for _ in range(MAX_STEPS):
        if reference_is_open(spec, at):
            counted += 1
            if counted == minutes:
                return at + MINUTE
        at += MINUTE
    return None


def reference_between(spec: Spec, start: datetime, end: datetime) -> timedelta:
    """Open minutes in ``[start, end)``, counted one by one."""
    open_minutes = 0
    at = start
    while at < end:
        open_minutes += reference_is_open(spec, at)
        at += MINUTE
    return open_minutes * MINUTE


# -- strategies ------------------------------------------------------------------------------

# Midnight as a boundary is over-weighted: 00:00 starts and 24:00 ends are where days join.
quarter_hours = st.one_of(st.sampled_from([0, QUARTERS_PER_DAY]), st.integers(0, QUARTERS_PER_DAY))


@st.composite
def day_windows(draw: st.DrawFn) -> tuple[MinuteWindow, ...]:
    """0-2 non-overlapping windows on the 15-minute grid; they may touch, or end at 24:00."""
    count = draw(st.integers(0, 2))
    cuts = sorted(draw(st.lists(quarter_hours, min_size=2 * count, max_size=2 * count)))
    return tuple(
        (lo * 15, hi * 15) for lo, hi in zip(cuts[::2], cuts[1::2], strict=True) if lo < hi
    )


@st.composite
def specs(draw: st.DrawFn, around: date) -> Spec:
    """Random calendars with at least a few open hours a week and holidays near ``around``."""
    weekly = [draw(day_windows()) for _ in range(7)]
    if sum(end - start for windows in weekly for start, end in windows) < MIN_WEEKLY_MINUTES:
        # Too little open time makes the brute force crawl: give one day a long shift instead.
        lo = draw(st.integers(0, QUARTERS_PER_DAY - 16))
        hi = draw(st.integers(lo + 16, QUARTERS_PER_DAY))
        weekly[draw(st.integers(0, 6))] = ((lo * 15, hi * 15),)
    days = draw(st.frozensets(st.sampled_from(HOLIDAY_DAYS), max_size=8))
    return Spec(
        zone=draw(st.sampled_from(ZONES)),
        weekly=tuple(weekly),
        holidays=frozenset(around + timedelta(days=d) for d in days),
        holiday_windows=draw(st.one_of(st.just(()), day_windows())),
    )


def minute_instants() -> st.SearchStrategy[datetime]:
    """UTC instants on the minute grid in 2026, half of them within 3 days of a tricky date."""
    anywhere = st.integers(0, 365 * DAY_MINUTES - 1).map(lambda m: YEAR_START + m * MINUTE)
    near = st.builds(
        lambda day, m: datetime.combine(day, time(0), UTC) + m * MINUTE,
        st.sampled_from(TRICKY_DATES),
        st.integers(-3 * DAY_MINUTES, 3 * DAY_MINUTES),
    )
    return st.one_of(near, anywhere)


def instants() -> st.SearchStrategy[datetime]:
    """Any UTC instant near the minute-grid ones, to the microsecond."""
    return st.builds(
        lambda at, micros: at + timedelta(microseconds=micros),
        minute_instants(),
        st.one_of(st.just(0), st.integers(-(10**8), 10**8)),
    )


# Zones to express an input in: the calendar's zones plus fixed offsets, half-hour ones too.
input_zones: st.SearchStrategy[tzinfo] = st.one_of(
    st.sampled_from(ZONES).map(ZoneInfo),
    st.integers(-14 * 4, 14 * 4).map(lambda q: timezone(q * timedelta(minutes=15))),
)


@dataclass(frozen=True)
class Scenario:
    spec: Spec
    start: datetime  # UTC, on the minute grid


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    start = draw(minute_instants())
    return Scenario(draw(specs(start.date())), start)


# Open time up to ~30 days, to the microsecond, zero and exact minutes over-weighted.
durations = st.one_of(
    st.just(timedelta(0)),
    st.integers(0, 30 * DAY_MINUTES).map(lambda m: m * MINUTE),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
)


# -- agreement with the brute force ----------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_add_agrees_with_the_minute_by_minute_reference(
    scenario: Scenario, data: st.DataObject
) -> None:
    spec, start = scenario.spec, scenario.start
    # At most a week's open time (and two days) keeps the brute force to a few weeks of steps.
    minutes = data.draw(st.integers(0, min(spec.weekly_minutes(), 2 * DAY_MINUTES)))
    expected = reference_add(spec, start, minutes)
    assume(expected is not None)
    assert spec.calendar().add(start, minutes * MINUTE) == expected


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios(), minutes=st.integers(-60, 5 * DAY_MINUTES))
def test_between_agrees_with_the_minute_by_minute_reference(
    scenario: Scenario, minutes: int
) -> None:
    spec, start = scenario.spec, scenario.start
    end = start + minutes * MINUTE  # a negative span must give zero, like the reference
    assert spec.calendar().between(start, end) == reference_between(spec, start, end)


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_is_open_agrees_with_the_wall_clock_reference_at_any_instant(
    scenario: Scenario, data: st.DataObject
) -> None:
    spec = scenario.spec
    cal = spec.calendar()
    # Several instants per calendar, in any order: earlier ones grow the table backwards.
    near = st.integers(-3 * DAY_MINUTES * 60 * 10**6, 30 * DAY_MINUTES * 60 * 10**6).map(
        lambda micros: scenario.start + timedelta(microseconds=micros)
    )
    for at in data.draw(st.lists(st.one_of(near, instants()), min_size=1, max_size=25)):
        assert cal.is_open(at) == reference_is_open(spec, at), at


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios(), minutes=st.integers(0, 3 * DAY_MINUTES))
def test_next_open_and_open_intervals_agree_with_the_reference(
    scenario: Scenario, minutes: int
) -> None:
    spec, start = scenario.spec, scenario.start
    cal = spec.calendar()
    end = start + minutes * MINUTE
    # The intervals are exactly the runs of open minutes, clipped to the range and merged.
    expected: list[tuple[datetime, datetime]] = []
    for m in range(minutes):
        at = start + m * MINUTE
        if not reference_is_open(spec, at):
            continue
        if expected and expected[-1][1] == at:
            expected[-1] = (expected[-1][0], at + MINUTE)
        else:
            expected.append((at, at + MINUTE))
    spans = cal.open_intervals(start, end)
    assert spans == expected
    assert sum(((e - s) for s, e in spans), timedelta(0)) == cal.between(start, end)
    # next_open is the first open minute from the start (a week of steps at most here).
    first = reference_add(spec, start, 1)
    assume(first is not None)
    assert first is not None
    assert cal.next_open(start) == first - MINUTE


# -- algebraic properties, at any instant and duration ---------------------------------------


def any_calendar() -> st.SearchStrategy[BusinessCalendar]:
    around = st.sampled_from([date(2026, 1, 1), *TRICKY_DATES])
    return st.one_of(
        around.flatmap(specs).map(Spec.calendar),
        st.sampled_from(ZONES).map(BusinessCalendar.always_open),
    )


def aware(at: datetime, zone: tzinfo) -> datetime:
    return at.astimezone(zone)


def utc(at: datetime) -> datetime:
    """The instant in UTC: comparing or subtracting two datetimes of one zone uses wall time."""
    return at.astimezone(UTC)


aware_instants = st.builds(aware, instants(), input_zones)


@settings(max_examples=200, deadline=None)
@given(cal=any_calendar(), start=aware_instants, duration=durations)
def test_business_time_between_a_start_and_its_deadline_is_the_duration(
    cal: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    # add and between are inverse to the microsecond, whatever the start's zone.
    assert cal.between(start, cal.add(start, duration)) == duration


@settings(max_examples=200, deadline=None)
@given(cal=any_calendar(), start=aware_instants, d1=durations, d2=durations)
def test_a_longer_duration_never_gives_an_earlier_deadline(
    cal: BusinessCalendar, start: datetime, d1: timedelta, d2: timedelta
) -> None:
    short, long = sorted([d1, d2])
    assert cal.add(start, short) <= cal.add(start, long)


@settings(max_examples=200, deadline=None)
@given(cal=any_calendar(), s1=aware_instants, s2=aware_instants, duration=durations)
def test_a_later_start_never_gives_an_earlier_deadline(
    cal: BusinessCalendar, s1: datetime, s2: datetime, duration: timedelta
) -> None:
    early, late = sorted([s1, s2], key=utc)
    assert cal.add(early, duration) <= cal.add(late, duration)


@settings(max_examples=200, deadline=None)
@given(cal=any_calendar(), points=st.lists(aware_instants, min_size=3, max_size=3))
def test_between_is_additive_over_adjacent_ranges(
    cal: BusinessCalendar, points: list[datetime]
) -> None:
    a, b, c = sorted(points, key=utc)
    assert cal.between(a, b) + cal.between(b, c) == cal.between(a, c)


@settings(max_examples=200, deadline=None)
@given(cal=any_calendar(), start=aware_instants, end=aware_instants)
def test_between_is_never_negative_and_zero_when_the_end_is_not_after_the_start(
    cal: BusinessCalendar, start: datetime, end: datetime
) -> None:
    span = cal.between(start, end)
    assert timedelta(0) <= span <= max(utc(end) - utc(start), timedelta(0))
    if utc(end) <= utc(start):
        assert span == timedelta(0)


@settings(max_examples=100, deadline=None)
@given(zone=st.sampled_from(ZONES), start=aware_instants, duration=durations)
def test_on_an_always_open_calendar_business_time_is_elapsed_time(
    zone: str, start: datetime, duration: timedelta
) -> None:
    # (Elapsed, not wall-clock: ``start + duration`` on a zoned datetime would skip DST hours.)
    cal = BusinessCalendar.always_open(zone)
    end = utc(start) + duration
    assert cal.add(start, duration) == end
    assert cal.between(start, end) == duration


# -- representation of inputs and outputs ----------------------------------------------------


def _is_utc(value: datetime) -> bool:
    return value.tzinfo is UTC and value.utcoffset() == timedelta(0)


@settings(max_examples=150, deadline=None)
@given(cal=any_calendar(), start=aware_instants, duration=durations)
def test_results_are_aware_utc_datetimes(
    cal: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    # Callers compare and store deadlines without knowing the zone they came from.
    assert _is_utc(cal.add(start, duration))
    assert _is_utc(cal.next_open(start))
    for s, e in cal.open_intervals(start, start + timedelta(days=10)):
        assert _is_utc(s)
        assert _is_utc(e)


@settings(max_examples=150, deadline=None)
@given(cal=any_calendar(), start=aware_instants)
def test_adding_zero_returns_the_start_even_when_closed(
    cal: BusinessCalendar, start: datetime
) -> None:
    # A zero target is already met: it must not jump to the next opening.
    due = cal.add(start, timedelta(0))
    assert due == utc(start)  # (inter-zone == is always False for a time in a repeated hour)
    assert _is_utc(due)


@settings(max_examples=150, deadline=None)
@given(
    cal=any_calendar(),
    start=instants(),
    end=instants(),
    duration=durations,
    zone_a=input_zones,
    zone_b=input_zones,
)
def test_the_zone_an_input_is_written_in_does_not_change_the_answer(
    cal: BusinessCalendar,
    start: datetime,
    end: datetime,
    duration: timedelta,
    zone_a: tzinfo,
    zone_b: tzinfo,
) -> None:
    # Only the instant matters; in a repeated hour ``astimezone`` sets ``fold`` to say which.
    local_start, local_end = start.astimezone(zone_a), end.astimezone(zone_b)
    assert cal.add(local_start, duration) == cal.add(start, duration)
    assert cal.between(local_start, local_end) == cal.between(start, end)
    assert cal.is_open(local_start) == cal.is_open(start)
    assert cal.next_open(local_start) == cal.next_open(start)


@settings(max_examples=100, deadline=None)
@given(
    scenario=scenarios(),
    warm_up=st.one_of(
        instants(),
        st.integers(-4, 4).map(lambda years: YEAR_START + timedelta(days=365 * years)),
    ),
    duration=durations,
    minutes=st.integers(0, 30 * DAY_MINUTES),
)
def test_answers_do_not_depend_on_what_was_asked_before(
    scenario: Scenario, warm_up: datetime, duration: timedelta, minutes: int
) -> None:
    # The table grows lazily forwards and backwards; a warm calendar must answer like a fresh one.
    spec, start = scenario.spec, scenario.start
    end = start + minutes * MINUTE
    warm = spec.calendar()
    warm.is_open(warm_up)
    assert warm.add(start, duration) == spec.calendar().add(start, duration)
    assert warm.between(start, end) == spec.calendar().between(start, end)
    assert warm.is_open(end) == spec.calendar().is_open(end)
    assert warm.next_open(end) == spec.calendar().next_open(end)


@settings(max_examples=50, deadline=None)
@given(cal=any_calendar(), at=instants())
def test_naive_datetimes_are_refused_everywhere(cal: BusinessCalendar, at: datetime) -> None:
    # A naive datetime has no instant: guessing a zone would silently shift deadlines.
    naive = at.replace(tzinfo=None)
    with pytest.raises(NaiveDatetimeError):
        cal.add(naive, timedelta(hours=1))
    with pytest.raises(NaiveDatetimeError):
        cal.between(naive, at)
    with pytest.raises(NaiveDatetimeError):
        cal.between(at, naive)
    with pytest.raises(NaiveDatetimeError):
        cal.is_open(naive)
    with pytest.raises(NaiveDatetimeError):
        cal.next_open(naive)
