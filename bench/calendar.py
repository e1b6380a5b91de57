"""Deadlines per second on a business calendar with holidays, beside a minute-stepping baseline.

Run: ``make bench-calendar`` (or ``uv run python bench/calendar.py``; ``--smoke``: 300 deadlines
per target, 30 for the baseline, a check that it runs rather than a measurement). Prints, for a
15-minute, an 8-hour and a 10-business-day target on BITAM's Mexico City calendar (Mon-Fri
08:30-18:00, Mexican official holidays), the deadlines computed per second by
``BusinessCalendar.add`` and by a reference that walks the calendar one minute at a time, both
over the same random starts in one process; then the cost of a 10-business-day target relative
to a 15-minute one.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# standard library's ``calendar`` (which ``holidays`` imports): take the folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import random
import statistics
import time as clock
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import holidays

from contracts.calendar import BusinessCalendar

ZONE = ZoneInfo("America/Mexico_City")
WINDOW = (time(8, 30), time(18))
TARGETS = {
    "15 min": timedelta(minutes=15),
    "8 h": timedelta(hours=8),
    "10 business days": timedelta(hours=95),  # 10 days of 9.5 business hours
}


def minute_stepping_add(
    closed: holidays.HolidayBase, start: datetime, duration: timedelta
) -> datetime:
    """The baseline: advance minute by minute, counting the minutes the office is open."""
    at = start.astimezone(UTC).replace(second=0, microsecond=0)
    left = int(duration.total_seconds() // 60)
    while left:
        local = at.astimezone(ZONE)
        if (
            local.weekday() < 5
            and local.date() not in closed
            and WINDOW[0] <= local.time() < WINDOW[1]
        ):
            left -= 1
        at += timedelta(minutes=1)
    return at


def _add(cal: BusinessCalendar, duration: timedelta, start: datetime) -> datetime:
    return cal.add(start, duration)


def _stepping(closed: holidays.HolidayBase, duration: timedelta, start: datetime) -> datetime:
    return minute_stepping_add(closed, start, duration)


def rate(fn: Callable[[datetime], object], starts: list[datetime], repeat: int) -> float:
    """Best-of-``repeat`` calls per second over ``starts``."""
    best = float("inf")
    for _ in range(repeat):
        began = clock.perf_counter()
        for start in starts:
            fn(start)
        best = min(best, clock.perf_counter() - began)
    return len(starts) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="deadlines per target")
    parser.add_argument("--baseline-n", type=int, default=300, help="baseline deadlines per target")
    parser.add_argument(
        "--smoke", action="store_true", help="300 deadlines per target, 30 for the baseline"
    )
    args = parser.parse_args()
    if args.smoke:  # the smoke size, unless a size was given too
        parser.set_defaults(n=300, baseline_n=30)
        args = parser.parse_args()

    closed = holidays.country_holidays("MX", language="es")
    cal = BusinessCalendar("America/Mexico_City", {key: [WINDOW] for key in range(5)}, closed)
    rng = random.Random(2026)
    base = datetime(2026, 1, 1, tzinfo=ZONE)
    starts = [base + timedelta(minutes=rng.randrange(365 * 24 * 60)) for _ in range(args.n)]

    began = clock.perf_counter()
    cal.add(starts[0], timedelta(minutes=1))  # unrolls the first year of the calendar
    cold_ms = (clock.perf_counter() - began) * 1e3
    print(
        f"calendar: Mon-Fri 08:30-18:00 America/Mexico_City, MX holidays; {args.n:,} random"
        f" starts in 2026 (first call, unrolling a year: {cold_ms:.1f} ms)\n"
    )
    print(f"{'target':<18}{'BusinessCalendar/s':>20}{'minute-stepping/s':>20}{'speed-up':>11}")
    ours: dict[str, float] = {}
    for label, duration in TARGETS.items():
        ours[label] = rate(partial(_add, cal, duration), starts, repeat=3)
        sample = starts[: args.baseline_n]
        for s in sample[:50]:  # both must agree before their speeds are compared
            assert minute_stepping_add(closed, s, duration) == cal.add(s, duration)
        theirs = rate(partial(_stepping, closed, duration), sample, repeat=1)
        print(f"{label:<18}{ours[label]:>20,.0f}{theirs:>20,.1f}{ours[label] / theirs:>10,.0f}x")
    ratio = ours["15 min"] / ours["10 business days"]
    print(f"\ncost of a 10-business-day deadline / a 15-minute one: {ratio:.2f}x")
    print(
        f"slowest target: {min(ours.values()):,.0f} deadlines/s"
        f" (median {statistics.median(ours.values()):,.0f})"
    )


if __name__ == "__main__":
    main()
