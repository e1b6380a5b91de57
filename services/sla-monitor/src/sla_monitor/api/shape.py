"""The read API's answers built from the clocks (live) and from stored clock rows.

Instants are given in UTC and in the policy's local time (its business calendar's zone);
durations in seconds. The shapes are declared in ``models``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from sla_monitor.clocks import ClockView
from sla_monitor.tickets import Assignee

Row = asyncpg.Record | Mapping[str, Any]
"""A ``sla_clocks`` row as asyncpg gives it (or a plain mapping)."""
UTC_ZONE = ZoneInfo("UTC")


def instant(value: datetime | None, zone: ZoneInfo) -> dict[str, str] | None:
    """An instant in UTC and in the policy's local time."""
    if value is None:
        return None
    return {
        "utc": value.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "local": value.astimezone(zone).isoformat(),
    }


def seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def clock_json(view: ClockView, running: bool, zone: ZoneInfo) -> dict[str, Any]:
    """One live clock of a ticket (``models.Clock``)."""
    return {
        "metric": view.metric.value,
        "status": view.status.value,
        "running": running,
        "target_seconds": seconds(view.target),
        "used_seconds": view.used.total_seconds(),
        "remaining_seconds": seconds(view.remaining),
        "deadline": instant(view.deadline, zone),
        "started_at": instant(view.started_at, zone),
        "met_at": instant(view.met_at, zone),
        "late": view.late,
        "pauses": view.pauses,
        "cycle": view.cycle,
        "earlier_cycles": [
            {
                "cycle": ended.cycle,
                "started_at": instant(ended.started_at, zone),
                "met_at": instant(ended.met_at, zone),
                "deadline": instant(ended.deadline, zone),
                "used_seconds": ended.used.total_seconds(),
                "late": ended.late,
                "breached": ended.breached_at is not None,
            }
            for ended in view.earlier
        ],
    }


def assignee_json(assignee: Assignee | None) -> dict[str, str] | None:
    return None if assignee is None else {"id": assignee.id, "name": assignee.name}


def row_json(row: Row, zone: ZoneInfo, now: datetime) -> dict[str, Any]:
    """A stored clock row (``models.ClockRow``), with the status it has at ``now`` where that
    is known without a replay: a running clock whose deadline has passed is breached."""
    status = row["status"]
    if row["running"] and row["deadline"] is not None and row["deadline"] <= now:
        status = "breached"
    deadline: datetime | None = row["deadline"]
    assignee_id = row["assignee_id"]
    assignee = None if assignee_id is None else Assignee(assignee_id, row["assignee_name"])
    return {
        "ticket_id": str(row["ticket_id"]),
        "case_number": row["case_number"],
        "title": row["title"],
        "metric": row["metric"],
        "policy": row["policy"],
        "tenant": row["tenant"],
        "priority": row["priority"],
        "assignee": assignee_json(assignee),
        "state": row["state"],
        "ticket_type": row["ticket_type"],
        "status": status,
        "running": row["running"],
        "late": row["late"] or status == "breached",
        "target_seconds": row["target_seconds"],
        "used_seconds_as_of": row["used_seconds"],
        "as_of": instant(row["as_of"], zone),
        "deadline": instant(deadline, zone),
        "until_deadline_seconds": None if deadline is None else (deadline - now).total_seconds(),
        "met_at": instant(row["met_at"], zone),
        "pauses": row["pauses"],
    }
