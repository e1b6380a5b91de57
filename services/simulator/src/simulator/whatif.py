"""What a policy change would have done to last month: stored history replayed in a shadow.

A support manager who shortens P2's target wants to know, before the change goes live, how
many of last month's tickets would have breached and which. The answer must come from the
same rules that run in production, so the history — sla-monitor's ``sla_ticket_events`` rows —
is replayed with ``sla_monitor.projection.replay`` twice, under the live policy and under the
candidate, entirely in memory (nothing live is touched), and each clock cycle's outcome as of
the end of the period is compared. Every ticket whose outcome changes comes with its two
receipts (``sla_monitor.receipt``), so the *why* is the same second-by-second account a
dispute would get. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.policy import SupportPolicy
from sla_monitor.clocks import ClockStatus, TicketSla
from sla_monitor.projection import replay
from sla_monitor.receipt import build_receipt
from sla_monitor.receipt_view import receipt_text

Rows = Sequence[Mapping[str, Any]]
Outcomes = dict[tuple[str, int], str]
"""(metric, cycle) → ``met`` (on time), ``breached`` or ``open`` (still running or paused)."""


def outcomes(sla: TicketSla | None, as_of: datetime) -> Outcomes:
    """Each applicable clock cycle's outcome as of ``as_of``."""
    out: Outcomes = {}
    if sla is None:
        return out
    for view in sla.view(as_of):
        for earlier in view.earlier:
            if earlier.target is not None:
                late = earlier.late or earlier.breached_at is not None
                out[(view.metric.value, earlier.cycle)] = "breached" if late else "met"
        if view.status is ClockStatus.MET:
            out[(view.metric.value, view.cycle)] = "breached" if view.late else "met"
        elif view.status is ClockStatus.BREACHED:
            out[(view.metric.value, view.cycle)] = "breached"
        elif view.status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            out[(view.metric.value, view.cycle)] = "open"
    return out


@dataclass(frozen=True)
class Change:
    ticket: str
    case_number: str
    priority: str
    before: Outcomes
    after: Outcomes
    receipt_before: str
    receipt_after: str

    @property
    def changed(self) -> dict[str, tuple[str | None, str | None]]:
        keys = sorted(set(self.before) | set(self.after))
        return {
            f"{m} #{c}": (self.before.get((m, c)), self.after.get((m, c)))
            for m, c in keys
            if self.before.get((m, c)) != self.after.get((m, c))
        }


@dataclass
class WhatIf:
    policy: str
    tickets: int = 0
    before: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(priority, outcome) → clock cycles, under the live policy."""
    after: Counter[tuple[str, str]] = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)

    def compliance(
        self, counts: Counter[tuple[str, str]], priority: str | None = None
    ) -> float | None:
        met = sum(n for (p, o), n in counts.items() if o == "met" and priority in (None, p))
        late = sum(n for (p, o), n in counts.items() if o == "breached" and priority in (None, p))
        return None if met + late == 0 else met / (met + late)


def what_if(
    live: Mapping[str, SupportPolicy],
    candidate: SupportPolicy,
    histories: Mapping[str, Rows],
    as_of: datetime,
) -> WhatIf:
    """Compare the candidate with the live policy of the same id on every ticket of that
    policy in ``histories`` (ticket id → its rows in version order)."""
    shadow = {**live, candidate.id: candidate}
    result = WhatIf(candidate.id)
    for ticket, rows in histories.items():
        if not rows or rows[0]["policy"] != candidate.id:
            continue
        real, other = replay(live, rows), replay(shadow, rows)
        if real is None or other is None:
            continue
        result.tickets += 1
        before, after = outcomes(real, as_of), outcomes(other, as_of)
        for outcome in before.values():
            result.before[(real.priority, outcome)] += 1
        for outcome in after.values():
            result.after[(other.priority, outcome)] += 1
        if before != after:
            result.changes.append(_change(live, shadow, ticket, rows, real, before, after, as_of))
    return result


def _change(
    live: Mapping[str, SupportPolicy],
    shadow: Mapping[str, SupportPolicy],
    ticket: str,
    rows: Rows,
    real: TicketSla,
    before: Outcomes,
    after: Outcomes,
    as_of: datetime,
) -> Change:
    raw = rows[0]["payload"]
    opened = json.loads(raw) if isinstance(raw, str) else raw
    case = str(opened.get("case_number", ticket))
    names = {"case_number": case, "title": str(opened.get("title", ""))}

    def text(policies: Mapping[str, SupportPolicy]) -> str:
        receipt = build_receipt(policies, rows, as_of)
        return "" if receipt is None else receipt_text(receipt, names, english=True)

    return Change(ticket, case, real.priority, before, after, text(live), text(shadow))
