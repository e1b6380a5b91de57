"""When requests arrive: a desk's weekly rhythm turned into instants, reproducibly.

Support traffic is not uniform: it follows the customers' working day in the desk's own zone
(a morning peak, a dip at lunch, a smaller afternoon peak), drops at night and at weekends
but never to zero (a 24/7 desk's P1 line rings at 3 a.m.). A profile says so with two sets of
weights — per weekday and per hour of the local day — and a daily volume. ``arrivals`` draws
a day's count from a Poisson law with that day's mean, then each request's hour from the hour
weights and its minute uniformly: the expected share of arrivals in each (weekday, hour) bucket
is exactly ``weekday weight × hour weight``, which is what the tests check.

Pure: no I/O, no clock; every draw comes from the ``random.Random`` handed in, so a seed
gives the same instants on every run and machine.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OFFICE_HOURS = (
    # 00-05 night tail, 06-07 early, 08-12 morning peak, 13 lunch, 14-17 afternoon, 18-23 evening
    0.2,
    0.15,
    0.1,
    0.1,
    0.1,
    0.2,
    0.6,
    1.5,
    4.0,
    6.0,
    6.5,
    6.0,
    5.0,
    3.0,
    4.5,
    5.0,
    4.5,
    3.5,
    1.5,
    0.8,
    0.6,
    0.5,
    0.4,
    0.3,
)
"""Relative arrivals per local hour for a desk serving office workers."""
WORKWEEK = (1.15, 1.05, 1.0, 1.0, 0.9, 0.2, 0.12)
"""Relative arrivals per weekday, Monday first: Monday's backlog of the weekend, a quiet Sunday."""


@dataclass(frozen=True)
class Profile:
    """How much traffic a desk gets and when, in its own zone."""

    time_zone: str
    per_day: float
    """Mean requests on a day of weekday weight 1 (before ``load`` scaling)."""
    weekdays: Sequence[float] = WORKWEEK
    hours: Sequence[float] = OFFICE_HOURS

    def __post_init__(self) -> None:
        if len(self.weekdays) != 7 or len(self.hours) != 24:
            raise ValueError("a profile has 7 weekday weights and 24 hour weights")
        if min(*self.weekdays, *self.hours) < 0 or sum(self.hours) <= 0:
            raise ValueError("weights are non-negative and the hours not all zero")

    def share(self, weekday: int, hour: int) -> float:
        """The expected share of a week's arrivals that falls in this local (weekday, hour)."""
        week = sum(self.weekdays)
        return self.weekdays[weekday] / week * self.hours[hour] / sum(self.hours)


def arrivals(
    profile: Profile, start: date, days: int, rng: random.Random, *, load: float = 1.0
) -> list[datetime]:
    """Arrival instants (UTC, sorted) on ``days`` local days from ``start``, ``load`` times
    the profile's volume."""
    zone = ZoneInfo(profile.time_zone)
    hours = list(range(24))
    out: list[datetime] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        mean = profile.per_day * load * profile.weekdays[day.weekday()]
        for _ in range(poisson(rng, mean)):
            (hour,) = rng.choices(hours, weights=profile.hours)
            local = datetime.combine(day, time(hour), zone) + timedelta(
                seconds=rng.uniform(0, 3600)
            )
            # Normalise through UTC so a DST-skipped local hour still yields a real instant.
            out.append(local.astimezone(UTC))
    return sorted(out)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: Knuth's product method for small means, a rounded normal for large
    ones (where the product underflows); both from ``rng`` alone."""
    if mean <= 0:
        return 0
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
