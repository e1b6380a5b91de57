"""Compliance for the contract's reports: per policy and priority, clocks met, on time, and
the business time they used (median, 90th percentile), each cycle counted on its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from contracts.vocabulary import Metric
from servicekit.web import CurrentPrincipal
from sla_monitor import queries
from sla_monitor.api import models
from sla_monitor.api.deps import Reader, SlaReader
from sla_monitor.api.params import aware, period
from sla_monitor.api.shape import UTC_ZONE, Row, instant
from sla_monitor.queries import Where

COMPLIANCE_METRICS = (Metric.FIRST_RESPONSE.value, Metric.RESOLUTION.value, Metric.UPDATE.value)
router = APIRouter(prefix="/v1/sla", tags=["sla"])


@router.get(
    "/compliance",
    operation_id="getCompliance",
    summary="Per policy and priority: clocks met, on time, used time",
    response_model=models.Compliance,
    responses=models.problems(401, 403, 503),
)
async def compliance(
    reader: Reader,
    principal: CurrentPrincipal,
    policy: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """Clocks met in ``[since, until)`` (by when they were met; all time by default)."""
    start, end = aware(since, "since"), aware(until, "until")
    if start is not None and end is not None and start >= end:
        period(start, end, reader.clock.now())  # raises the period's problem
    where = Where(
        ("met_at >= {}", start),
        ("met_at < {}", end),
        ("policy = {}", policy),
        ("tenant = ANY({})", principal.scope(tenant)),
    )
    metrics = where.param(list(COMPLIANCE_METRICS))
    sql = queries.COMPLIANCE.format(where=where.sql("status = 'met'", f"metric = ANY({metrics})"))
    async with reader.db().acquire() as conn:
        rows = await conn.fetch(sql, *where.args)
    return {
        "since": instant(start, UTC_ZONE),
        "until": instant(end, UTC_ZONE),
        "items": groups(reader, rows),
    }


def groups(reader: SlaReader, rows: Sequence[Row]) -> list[dict[str, Any]]:
    """One item per policy and priority, ranked as the policy ranks its priorities."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        group = found.setdefault(
            (row["policy"], row["priority"]),
            {"policy": row["policy"], "priority": row["priority"], "metrics": {}},
        )
        group["metrics"][row["metric"]] = {
            "met": row["met"],
            "met_on_time": row["on_time"],
            "on_time_share": row["on_time"] / row["met"],
            "median_used_seconds": row["median"],
            "p90_used_seconds": row["p90"],
        }
    return sorted(found.values(), key=lambda g: _priority_order(reader, g))


def _priority_order(reader: SlaReader, group: Mapping[str, Any]) -> tuple[str, int, str]:
    policy = reader.policies.get(group["policy"])
    ids = [p.id for p in policy.priorities] if policy else []
    rank = ids.index(group["priority"]) if group["priority"] in ids else len(ids)
    return group["policy"], rank, group["priority"]
