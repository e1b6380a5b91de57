"""The SLA report's figures, computed from events alone.

The same function serves a simulation and real history because it reads only what every
deployment keeps: the ``SLA`` stream (clocks met and breached, with priority, metric and
cycle), the ``TICKETS`` stream (openings, resolutions, reopenings, escalations) and the
notifier's delivery log. No service's internal table is needed, so a report of last month can
be made on any copy of the streams.

A clock cycle counts once: *breached* if an ``sla.breached`` was announced for it (sla-monitor
announces each breach once, before any ``sla.met``), otherwise *met* if an ``sla.met`` says
so; compliance is met / (met + breached), per policy, priority and metric, over the cycles
that ended in the period (the breach's or the met event's time). Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.events import CloudEvent, EventPayload, payload_of
from contracts.events import sla as se
from contracts.events import ticket as te

BUCKETS = (
    ("≤15m", timedelta(minutes=15)),
    ("≤30m", timedelta(minutes=30)),
    ("≤1h", timedelta(hours=1)),
    ("≤2h", timedelta(hours=2)),
    ("≤4h", timedelta(hours=4)),
    ("≤8h", timedelta(hours=8)),
    ("≤24h", timedelta(hours=24)),
    ("≤72h", timedelta(hours=72)),
    (">72h", timedelta.max),
)
"""Business time used when a clock was met, in the buckets a support manager talks about."""
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Fact:
    """One event as the figures need it."""

    name: str
    ticket: str
    policy: str
    time: datetime
    payload: EventPayload

    @classmethod
    def of(cls, event: CloudEvent) -> Fact:
        return cls(event.event_name, event.subject, event.policy, event.time, payload_of(event))


@dataclass
class Figures:
    start: datetime
    end: datetime
    compliance: dict[tuple[str, str, str], Counter[str]] = field(default_factory=dict)
    """(policy, priority, metric) → {"met": n, "breached": n}."""
    breaches_by_slot: Counter[tuple[int, int]] = field(default_factory=Counter)
    """(local weekday 0=Mon, local hour of the deadline) → breaches."""
    backlog: list[tuple[datetime, int]] = field(default_factory=list)
    """Open tickets (not resolved nor closed) at each hour of the period."""
    met_times: dict[str, Counter[str]] = field(default_factory=dict)
    """metric → bucket label → clocks met with that much business time used."""
    escalations: Counter[int] = field(default_factory=Counter)
    """level reached → escalations."""
    notifications: Counter[str] = field(default_factory=Counter)
    """channel → deliveries planned."""
    opened: Counter[str] = field(default_factory=Counter)
    """policy → tickets opened."""

    def rate(self, key: tuple[str, str, str]) -> float | None:
        met, breached = self.compliance[key]["met"], self.compliance[key]["breached"]
        return None if met + breached == 0 else met / (met + breached)

    def as_json(self) -> dict[str, Any]:
        return {
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "opened": dict(sorted(self.opened.items())),
            "compliance": [
                {
                    "policy": p,
                    "priority": pr,
                    "metric": m,
                    "met": c["met"],
                    "breached": c["breached"],
                    "rate": self.rate((p, pr, m)),
                }
                for (p, pr, m), c in sorted(self.compliance.items())
            ],
            "breaches_by_weekday_hour": [
                {"weekday": WEEKDAYS[d], "hour": h, "breaches": n}
                for (d, h), n in sorted(self.breaches_by_slot.items())
            ],
            "backlog": [{"at": at.isoformat(), "open": n} for at, n in self.backlog],
            "time_to_met": {
                m: {label: c[label] for label, _ in BUCKETS}
                for m, c in sorted(self.met_times.items())
            },
            "escalations_by_level": {str(k): v for k, v in sorted(self.escalations.items())},
            "notifications_by_channel": dict(sorted(self.notifications.items())),
        }


def bucket(used: timedelta) -> str:
    return next(label for label, upper in BUCKETS if used <= upper)


def figures(
    facts: Iterable[Fact],
    deliveries: Iterable[Mapping[str, Any]],
    zones: Mapping[str, ZoneInfo],
    start: datetime,
    end: datetime,
) -> Figures:
    """The figures of [start, end) from every event up to ``end`` (earlier ones give the
    backlog its starting point) and the deliveries; ``zones``: each policy's office zone."""
    out = Figures(start, end)
    outcome: dict[tuple[str, str, int], tuple[str, str, str]] = {}
    """(ticket, metric, cycle) → (status, policy, priority), in the period."""
    open_now: set[str] = set()
    hours = _hours(start, end)
    for fact in sorted(facts, key=lambda f: f.time):
        while hours and hours[0] <= fact.time:
            out.backlog.append((hours.pop(0), len(open_now)))
        _backlog(fact, open_now)
        if not start <= fact.time < end:
            continue
        p = fact.payload
        if isinstance(p, te.Opened):
            out.opened[fact.policy] += 1
        elif isinstance(p, te.Escalated):
            out.escalations[p.to_level] += 1
        elif isinstance(p, se.Breached):
            outcome[(fact.ticket, p.metric.value, p.cycle)] = ("breached", fact.policy, p.priority)
            local = p.deadline.astimezone(zones.get(fact.policy, ZoneInfo("UTC")))
            out.breaches_by_slot[(local.weekday(), local.hour)] += 1
        elif isinstance(p, se.Met):
            key = (fact.ticket, p.metric.value, p.cycle)
            outcome.setdefault(key, ("met", fact.policy, p.priority))
            out.met_times.setdefault(p.metric.value, Counter())[bucket(p.elapsed)] += 1
    out.backlog.extend((at, len(open_now)) for at in hours)
    for (_, metric, _), (status, policy, priority) in outcome.items():
        counts = out.compliance.setdefault((policy, priority, metric), Counter())
        counts[status] += 1
        counts["met"] += 0
        counts["breached"] += 0
    for delivery in deliveries:
        created = delivery["created_at"]
        if isinstance(created, str):
            created = datetime.fromisoformat(created.replace("Z", "+00:00"))
        if start <= created < end:
            out.notifications[str(delivery["channel"])] += 1
    return out


def _backlog(fact: Fact, open_now: set[str]) -> None:
    if isinstance(fact.payload, te.Opened | te.Reopened):
        open_now.add(fact.ticket)
    elif isinstance(fact.payload, te.Resolved | te.Closed):
        open_now.discard(fact.ticket)


def _hours(start: datetime, end: datetime) -> list[datetime]:
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(hours=1)
    count = max(0, int((end - first) / timedelta(hours=1)) + 1)
    return [first + timedelta(hours=i) for i in range(count) if first + timedelta(hours=i) < end]


def weekday_hours(breaches: Counter[tuple[int, int]]) -> list[list[int]]:
    """The breaches as a 7 × 24 grid (rows Monday..Sunday), for the heat map."""
    return [[breaches[(d, h)] for h in range(24)] for d in range(7)]


def per_group(figs: Figures) -> dict[str, dict[str, int]]:
    """Compliance counts per policy (all priorities and metrics together)."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"met": 0, "breached": 0})
    for (policy, _, _), counts in figs.compliance.items():
        totals[policy]["met"] += counts["met"]
        totals[policy]["breached"] += counts["breached"]
    return dict(totals)
