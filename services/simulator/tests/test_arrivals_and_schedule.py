"""The simulator's traffic follows its profile and is the same for the same seed (pure)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

from simulator.arrivals import Profile, arrivals
from simulator.scenario import schedule

PROFILE = Profile("America/Bogota", 200)


def test_arrivals_fall_in_each_weekday_and_hour_in_the_profiles_proportions() -> None:
    instants = arrivals(PROFILE, date(2026, 11, 2), 28, random.Random(7))
    zone = ZoneInfo(PROFILE.time_zone)
    buckets = Counter((i.astimezone(zone).weekday(), i.astimezone(zone).hour) for i in instants)
    total = len(instants)
    # Four weeks of mean 200 × weekday weight a day: about 4,300 arrivals.
    assert 4000 < total < 4700
    chi2 = 0.0
    for weekday in range(7):
        for hour in range(24):
            expected = total * PROFILE.share(weekday, hour)
            chi2 += (buckets[(weekday, hour)] - expected) ** 2 / expected
    # 167 degrees of freedom: the 99.9 % quantile of chi-square is about 228.
    assert chi2 < 228, chi2
    weekday_share = sum(n for (d, _), n in buckets.items() if d < 5) / total
    assert abs(weekday_share - sum(PROFILE.weekdays[:5]) / sum(PROFILE.weekdays)) < 0.02


def test_arrivals_stay_inside_the_local_days_asked_for() -> None:
    instants = arrivals(PROFILE, date(2026, 11, 2), 2, random.Random(1))
    days = {i.astimezone(ZoneInfo(PROFILE.time_zone)).date() for i in instants}
    assert days <= {date(2026, 11, 2), date(2026, 11, 3)}


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    first = schedule(42, date(2026, 11, 2), 5, 0.5)
    again = schedule(42, date(2026, 11, 2), 5, 0.5)
    other = schedule(43, date(2026, 11, 2), 5, 0.5)
    assert first == again
    assert first != other
    assert {p.policy for p in first} == {"bitam", "ikhodi", "proditma", "itac", "btw"}
    assert {p.channel for p in first} == {"api", "email"}


def test_a_full_load_month_is_about_five_thousand_requests() -> None:
    assert 4600 < len(schedule(1, date(2026, 11, 2), 30, 1.0)) < 5600
