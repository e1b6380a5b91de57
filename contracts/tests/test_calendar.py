"""The business calendar, case by case: the deadlines help desks most often get wrong."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts.calendar import BusinessCalendar, NaiveDatetimeError

MEXICO = ZoneInfo("America/Mexico_City")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")
OFFICE = [(time(8, 30), time(18))]
REVOLUTION_DAY_2026 = date(2026, 11, 16)  # a Monday


def mexico_office(*holidays: date) -> BusinessCalendar:
    return BusinessCalendar("America/Mexico_City", dict.fromkeys(range(5), OFFICE), set(holidays))


def mx(*args: int) -> datetime:
    return datetime(*args, tzinfo=MEXICO)  # type: ignore[misc]


def test_a_deadline_may_be_a_closing_time_friday_0830_plus_9_5h_is_friday_1800() -> None:
    due = mexico_office().add(mx(2026, 11, 27, 8, 30), timedelta(hours=9.5))
    assert due == mx(2026, 11, 27, 18)


def test_an_hour_registered_friday_1730_is_due_monday_0900() -> None:
    due = mexico_office().add(mx(2026, 11, 27, 17, 30), timedelta(hours=1))
    assert due == mx(2026, 11, 30, 9)


def test_time_registered_outside_hours_starts_counting_at_the_next_opening() -> None:
    cal = mexico_office()
    assert cal.add(mx(2026, 11, 28, 23, 0), timedelta(minutes=15)) == mx(2026, 11, 30, 8, 45)
    assert cal.next_open(mx(2026, 11, 28, 23, 0)) == mx(2026, 11, 30, 8, 30)
    assert cal.next_open(mx(2026, 11, 30, 9, 0)) == mx(2026, 11, 30, 9, 0)


def test_a_holiday_in_the_middle_of_a_multi_day_target_closes_the_whole_day() -> None:
    # Two business days from Friday morning: Friday, (holiday Monday skipped), Tuesday.
    cal = mexico_office(REVOLUTION_DAY_2026)
    due = cal.add(mx(2026, 11, 13, 8, 30), timedelta(hours=19))
    assert due == mx(2026, 11, 17, 18)
    assert not cal.is_open(mx(2026, 11, 16, 12))
    assert cal.between(mx(2026, 11, 13, 8, 30), due) == timedelta(hours=19)


def test_split_shift_skips_the_lunch_break() -> None:
    cal = BusinessCalendar("America/Guatemala", {0: [(time(9), time(13)), (time(15), time(19))]})
    gt = ZoneInfo("America/Guatemala")
    assert cal.add(datetime(2026, 11, 23, 12, tzinfo=gt), timedelta(hours=2)) == datetime(
        2026, 11, 23, 16, tzinfo=gt
    )
    assert not cal.is_open(datetime(2026, 11, 23, 14, tzinfo=gt))


def test_different_hours_per_weekday_friday_closes_earlier() -> None:
    bogota = ZoneInfo("America/Bogota")
    cal = BusinessCalendar(
        "America/Bogota",
        {**{day: [(time(7, 30), time(18))] for day in range(4)}, 4: [(time(7), time(17))]},
    )
    thursday = datetime(2026, 11, 26, 17, tzinfo=bogota)
    assert cal.add(thursday, timedelta(hours=2)) == datetime(2026, 11, 27, 8, tzinfo=bogota)
    assert cal.add(thursday, timedelta(hours=11)) == datetime(2026, 11, 27, 17, tzinfo=bogota)


def test_a_24_7_calendar_across_midnight_is_never_closed_for_a_minute() -> None:
    cal = BusinessCalendar.always_open("America/Bogota")
    start = datetime(2026, 11, 27, 23, 50, tzinfo=ZoneInfo("America/Bogota"))
    assert cal.add(start, timedelta(minutes=20)) == start + timedelta(minutes=20)
    for minute in range(30):
        assert cal.is_open(start + timedelta(minutes=minute))
    # and across the chunk edges of the internal table: a year of elapsed time is a year
    assert cal.between(start, start + timedelta(days=800)) == timedelta(days=800)


def test_a_night_shift_ending_at_2400_joins_the_next_morning() -> None:
    cal = BusinessCalendar("UTC", {0: [(time(18), time(0))], 1: [(time(0), time(6))]})
    monday_23 = datetime(2026, 11, 23, 23, tzinfo=UTC)
    assert cal.add(monday_23, timedelta(hours=2)) == datetime(2026, 11, 24, 1, tzinfo=UTC)
    assert cal.open_intervals(monday_23, monday_23 + timedelta(hours=3)) == [
        (monday_23, monday_23 + timedelta(hours=3))
    ]


def test_business_time_is_real_time_across_the_spring_forward_hour() -> None:
    # New York skips 02:00-03:00 on 2026-03-08: a Sunday window 00:00-04:00 is 3 real hours.
    cal = BusinessCalendar("America/New_York", {6: [(time(0), time(4))]})
    sunday = datetime(2026, 3, 8, tzinfo=NEW_YORK)
    assert cal.between(sunday, sunday + timedelta(days=1)) == timedelta(hours=3)
    assert cal.add(sunday, timedelta(hours=3)) == datetime(2026, 3, 8, 4, tzinfo=NEW_YORK)


def test_the_repeated_autumn_hour_counts_twice_when_the_desk_is_open_through_it() -> None:
    cal = BusinessCalendar("America/New_York", {6: [(time(0), time(4))]})
    sunday = datetime(2026, 11, 1, tzinfo=NEW_YORK)
    assert cal.between(sunday, sunday + timedelta(days=1)) == timedelta(hours=5)


def test_santiago_24_7_through_the_midnight_dst_jump_counts_elapsed_time() -> None:
    cal = BusinessCalendar.always_open("America/Santiago")
    start = datetime(2026, 9, 5, 12, tzinfo=SANTIAGO)  # clocks jump 00:00 → 01:00 on the 6th
    assert cal.add(start, timedelta(hours=48)) == start.astimezone(UTC) + timedelta(hours=48)
    # Wall-clock arithmetic on the local datetime would say 72 h; only 71 h really pass.
    assert cal.between(start, start + timedelta(days=3)) == timedelta(hours=71)
    assert cal.between(start, start.astimezone(UTC) + timedelta(days=3)) == timedelta(days=3)


def test_office_hours_keep_their_local_time_across_a_dst_change() -> None:
    # New York office 09:00-17:00: Friday before and Monday after the change both open at 09:00.
    cal = BusinessCalendar("America/New_York", {day: [(time(9), time(17))] for day in range(5)})
    due = cal.add(datetime(2026, 3, 6, 16, tzinfo=NEW_YORK), timedelta(hours=2))
    assert due == datetime(2026, 3, 9, 10, tzinfo=NEW_YORK)
    assert due.utcoffset() == timedelta(0)  # results are UTC...
    assert due.astimezone(NEW_YORK).hour == 10  # ...and mean 10:00 local, daylight time


def test_holiday_windows_keep_a_holiday_line_open() -> None:
    christmas = date(2026, 12, 25)
    cal = BusinessCalendar(
        "America/Bogota",
        {5: [(time(8), time(17))]},
        {christmas},
        holiday_windows=[(time(8), time(17))],
    )
    bogota = ZoneInfo("America/Bogota")
    assert cal.is_open(datetime(2026, 12, 25, 9, tzinfo=bogota))  # Friday, but a holiday
    assert not cal.is_open(datetime(2026, 12, 18, 9, tzinfo=bogota))  # an ordinary Friday


def test_deadlines_far_in_the_past_and_future_are_computed_alike() -> None:
    cal = mexico_office()
    for year in (1995, 2026, 2060):
        start = mx(year, 6, 5, 8, 30)
        due = cal.add(start, timedelta(hours=95))
        assert cal.between(start, due) == timedelta(hours=95)
        assert due.astimezone(MEXICO).time() == time(18)


def test_naive_datetimes_are_refused_with_a_clear_error() -> None:
    with pytest.raises(NaiveDatetimeError, match="timezone-aware"):
        mexico_office().add(datetime(2026, 11, 27, 9), timedelta(hours=1))


def test_zero_and_negative_durations() -> None:
    start = mx(2026, 11, 28, 12)  # Saturday: closed
    assert mexico_office().add(start, timedelta(0)) == start
    with pytest.raises(ValueError, match="negative"):
        mexico_office().add(start, timedelta(minutes=-1))
    assert mexico_office().between(start, start - timedelta(hours=1)) == timedelta(0)


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ({}, "at least one opening window"),
        ({0: [(time(18), time(9))]}, "ends before it starts"),
        ({0: [(time(8), time(12)), (time(11), time(14))]}, "overlap"),
        ({7: [(time(8), time(12))]}, "weekday"),
    ],
)
def test_impossible_calendars_are_refused(
    weekly: dict[int, list[tuple[time, time]]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar("UTC", weekly)
