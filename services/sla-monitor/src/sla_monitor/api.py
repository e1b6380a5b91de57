"""The dashboards' read API of sla-monitor: clocks, tickets at risk, breaches, compliance, changes.

Everything is read from the SLA projection's tables (``sla_ticket_events``, ``sla_clocks``).
A stored clock row is as of its ticket's last event; what a dashboard shows *now* of one ticket
is recomputed by replaying that ticket's stored events into a ``TicketSla`` and asking it about
the injectable clock's ``now()`` — the same rules as the projection, so a running clock's used
and remaining time, and its status, are live. Instants are given in UTC and in the policy's
local time (its business calendar's time zone).

A ticket is named as people name it: ``tickets/{id}`` takes its case number (``BIT-000123``)
as well as its id, and every row (a ticket's clocks, at risk, breaches, the stream) carries its
case number, title, tenant, priority, assignee and state, read from the projection's
``sla_tickets`` (written with the clocks, from the same events).

Errors are RFC 9457 ``application/problem+json`` with a Spanish ``detail`` by default and an
English one on ``Accept-Language: en``. Callers present ticket-api's credentials
(``Authorization: Bearer <key or token>``), which ticket-api resolves for us (ADR 0014): every
read, list, report and stream holds only the tenants the caller sees there — customers their
own, agents those they serve — and another tenant's ticket is 404, as on ticket-api.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import TypeAdapter, ValidationError

from contracts import web
from contracts.clock import Clock
from contracts.events import ticket as te
from contracts.messaging.consumer import Connection
from contracts.policy import SupportPolicy, parse_span
from contracts.vocabulary import Metric
from contracts.web import CurrentPrincipal, Introspection, Problem
from sla_monitor.clocks import ClockView
from sla_monitor.projection import replay
from sla_monitor.receipt import build_receipt
from sla_monitor.receipt_view import receipt_json, receipt_text
from sla_monitor.settings import Settings
from sla_monitor.tickets import Assignee, ticket_facts

log = logging.getLogger(__name__)
MAX_WITHIN = timedelta(days=31)
COMPLIANCE_METRICS = (Metric.FIRST_RESPONSE.value, Metric.RESOLUTION.value, Metric.UPDATE.value)
Row = asyncpg.Record | Mapping[str, Any]
"""A ``sla_clocks`` row as asyncpg gives it (or a plain mapping)."""
DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
CASE_NUMBER: TypeAdapter[str] = TypeAdapter(te.CaseNumber)
"""The event contract's case-number rule (``BIT-000123``), to tell one from a ticket id."""
CLOCK_ROWS = (
    "(SELECT c.*, t.case_number, t.title, t.assignee_id, t.assignee_name, t.state "
    "FROM sla_clocks c LEFT JOIN sla_tickets t USING (ticket_id)) AS clocks"
)
"""``sla_clocks`` rows with the names of their ticket. A left join: a clock projected before
``sla_tickets`` existed is still listed (its names are null until a rebuild fills them)."""


@dataclass
class SlaReader:
    """What the views need: settings, policies, the clock and (once started) the pool."""

    settings: Settings
    policies: dict[str, SupportPolicy]
    clock: Clock
    pool: asyncpg.Pool | None = None

    def db(self) -> asyncpg.Pool:
        if self.pool is None:
            raise ConnectionError("the database pool is not open")
        return self.pool

    def zone(self, policy_id: str) -> ZoneInfo:
        """The policy's local time zone (its business calendar's); UTC for an unknown policy."""
        policy = self.policies.get(policy_id)
        if policy is None:
            return ZoneInfo("UTC")
        return local_zone(policy)


def local_zone(policy: SupportPolicy) -> ZoneInfo:
    return ZoneInfo(policy.calendars[policy.business_calendar].time_zone)


# --- problems ---------------------------------------------------------------------------------


def install_problems(app: FastAPI) -> None:
    """Every failure answers a problem document; an unreachable database answers 503."""
    web.install_problems(
        app,
        unavailable=DATABASE_ERRORS,
        unavailable_en="The SLA database is unreachable. Retry shortly.",
        unavailable_es="La base de datos de SLA no responde. Reintente en breve.",
    )


def reader_of(request: Request) -> SlaReader:
    reader: SlaReader = request.app.state.reader
    return reader


# --- shaping ----------------------------------------------------------------------------------


def instant(value: datetime | None, zone: ZoneInfo) -> dict[str, str] | None:
    """An instant in UTC and in the policy's local time."""
    if value is None:
        return None
    return {
        "utc": value.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "local": value.astimezone(zone).isoformat(),
    }


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def clock_json(view: ClockView, running: bool, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "metric": view.metric.value,
        "status": view.status.value,
        "running": running,
        "target_seconds": _seconds(view.target),
        "used_seconds": view.used.total_seconds(),
        "remaining_seconds": _seconds(view.remaining),
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
    """A stored clock row, with the status it has at ``now`` where that is known without a
    replay: a running clock whose deadline has passed is breached."""
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


def parse_within(text: str) -> timedelta:
    """``2h``, ``90m``, ``1h30m``, ``1d`` or a number of seconds; at most 31 days."""
    value = text.strip()
    try:
        if value.isdigit():
            span = timedelta(seconds=int(value))
        else:
            parsed = parse_span(value)
            if parsed.is_business_days:
                raise ValueError("business days are not accepted here")
            span = parsed.fixed
    except ValueError:
        raise Problem(
            422,
            "invalid-duration",
            en=f"'within' must be a duration such as 2h, 30m, 1h30m or a number of seconds, "
            f"not {text!r}.",
            es=f"'within' debe ser una duración como 2h, 30m, 1h30m o un número de segundos, "
            f"no {text!r}.",
            field="within",
        ) from None
    if not timedelta(0) < span <= MAX_WITHIN:
        raise Problem(
            422,
            "invalid-duration",
            en="'within' must be longer than zero and at most 31 days.",
            es="'within' debe ser mayor que cero y de 31 días como máximo.",
            field="within",
        )
    return span


def aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Problem(
            422,
            "naive-datetime",
            en=f"'{name}' needs a time zone offset (e.g. 2026-11-30T09:00:00-06:00 or ...Z).",
            es=f"'{name}' necesita una zona horaria (p. ej. 2026-11-30T09:00:00-06:00 o ...Z).",
            field=name,
        )
    return value


def period(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The ``[since, until)`` period of a query: by default the last 7 days up to now."""
    end = aware(until, "until") or now
    start = aware(since, "since") or end - timedelta(days=7)
    if start >= end:
        raise Problem(
            422,
            "invalid-period",
            en="'since' must come before 'until'.",
            es="'since' debe ser anterior a 'until'.",
            field="since",
        )
    return start, end


class Where:
    """``WHERE`` conditions with numbered asyncpg parameters."""

    def __init__(self, *conditions: tuple[str, Any]) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []
        for condition, value in conditions:
            self.add(condition, value)

    def add(self, condition: str, value: Any) -> Where:
        """``condition`` uses ``{}`` for the parameter; a ``None`` value adds nothing."""
        if value is not None:
            self.args.append(value)
            self.parts.append(condition.format(f"${len(self.args)}"))
        return self

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def sql(self, *fixed: str) -> str:
        parts = [*fixed, *self.parts]
        return " WHERE " + " AND ".join(parts) if parts else ""


def _limit(reader: SlaReader, limit: int | None) -> int:
    cap = reader.settings.page_size_cap
    return cap if limit is None else min(limit, cap)


# --- routes -----------------------------------------------------------------------------------

router = APIRouter(prefix="/v1/sla", tags=["sla"])

EVENTS_OF = (
    "SELECT version, name, payload, at, policy, tenant FROM sla_ticket_events "
    "WHERE ticket_id = $1 ORDER BY version"
)


async def ticket_id_of(conn: Connection, ref: str, scope: Scope) -> UUID | None:
    """The ticket a reference names: a case number among the caller's tenants (so another
    tenant's number is as unknown as its id), else a ticket id; None when it is neither."""
    try:
        case_number = CASE_NUMBER.validate_python(ref.upper())
    except ValidationError:
        try:
            return UUID(ref)
        except ValueError:
            return None
    where = Where(("case_number = {}", case_number), ("tenant = ANY({})", scope))
    found: UUID | None = await conn.fetchval(
        f"SELECT ticket_id FROM sla_tickets{where.sql()} "
        "ORDER BY opened_at DESC, ticket_id LIMIT 1",  # a number issued twice: the newest
        *where.args,
    )
    return found


@router.get("/tickets/{ticket_id}", summary="A ticket's SLA clocks, live (by id or case number)")
async def ticket_clocks(
    ticket_id: Annotated[
        str,
        Path(
            max_length=64,
            description="The ticket's id, or its case number (e.g. BIT-000123)",
            examples=["BIT-000123"],
        ),
    ],
    request: Request,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """The ticket's clocks as of now, with its case number, title, assignee and state."""
    reader = reader_of(request)
    async with reader.db().acquire() as conn:
        found = await ticket_id_of(conn, ticket_id, principal.scope(None))
        rows = [] if found is None else [dict(r) for r in await conn.fetch(EVENTS_OF, found)]
    sla, facts = replay(reader.policies, rows), ticket_facts(rows)
    if sla is None or facts is None or not principal.may_see(rows[0]["tenant"]):
        raise Problem(
            404,
            "ticket-not-found",
            en=f"No SLA clocks for ticket {ticket_id}.",
            es=f"No hay relojes de SLA para el ticket {ticket_id}.",
        )
    now = reader.clock.now()
    zone = local_zone(sla.policy)
    return {
        "ticket_id": str(found),
        "case_number": facts.case_number,
        "title": facts.title,
        "policy": sla.policy.id,
        "tenant": rows[0]["tenant"],
        "priority": sla.priority,
        "assignee": assignee_json(facts.assignee),
        "ticket_type": sla.ticket_type,
        "state": facts.state.value,
        "time_zone": zone.key,
        "now": instant(now, zone),
        "ticket_version": rows[-1]["version"],
        "clocks": [
            clock_json(view, sla.clocks[view.metric].running_since is not None, zone)
            for view in sla.view(now)
        ],
    }


def wants_text(request: Request, output: str | None) -> bool:
    """Plain text on ``format=text``, or on ``Accept: text/plain`` without JSON asked for too."""
    if output is not None:
        return output == "text"
    accept = request.headers.get("accept", "").lower()
    return "text/plain" in accept and "application/json" not in accept


@router.get(
    "/tickets/{ticket_id}/receipt",
    summary="Every second of a ticket's SLA clocks explained: the receipt (JSON or plain text)",
    response_model=None,
    responses={
        200: {"content": {"application/json": {}, "text/plain": {}}},
        404: {"description": "No such ticket among the caller's tenants (problem+json)"},
    },
)
async def ticket_receipt(
    ticket_id: Annotated[
        str,
        Path(
            max_length=64,
            description="The ticket's id, or its case number (e.g. BIT-000123)",
            examples=["BIT-000123"],
        ),
    ],
    request: Request,
    principal: CurrentPrincipal,
    lang: Annotated[
        Literal["es", "en"] | None,
        Query(description="Language; default: Accept-Language, else Spanish"),
    ] = None,
    output: Annotated[
        Literal["json", "text"] | None,
        Query(alias="format", description="json or text; default: by the Accept header"),
    ] = None,
) -> Response:
    """Per metric and cycle, the spans that counted (local time and UTC), every stretch inside
    the measured period that did not and why (night, weekend, a holiday by name, a vendor
    closure, a pause with who caused it and why), each retarget on a priority change, and a
    total equal to the clock's used time. For a mail or a penalty dispute: ``format=text``."""
    reader = reader_of(request)
    async with reader.db().acquire() as conn:
        found = await ticket_id_of(conn, ticket_id, principal.scope(None))
        rows = [] if found is None else [dict(r) for r in await conn.fetch(EVENTS_OF, found)]
    receipt = build_receipt(reader.policies, rows, reader.clock.now())
    facts = ticket_facts(rows)
    if receipt is None or facts is None or not principal.may_see(rows[0]["tenant"]):
        raise Problem(
            404,
            "ticket-not-found",
            en=f"No SLA clocks for ticket {ticket_id}.",
            es=f"No hay relojes de SLA para el ticket {ticket_id}.",
        )
    english = lang == "en" if lang is not None else web.wants_english(request)
    ticket = {
        "ticket_id": str(found),
        "case_number": facts.case_number,
        "title": facts.title,
        "tenant": rows[0]["tenant"],
        "state": facts.state.value,
    }
    headers = {"Content-Language": "en" if english else "es", "Vary": "Accept, Accept-Language"}
    if wants_text(request, output):
        return PlainTextResponse(receipt_text(receipt, ticket, english=english), headers=headers)
    return JSONResponse(receipt_json(receipt, ticket, english=english), headers=headers)


@router.get("/at-risk", summary="Running clocks whose deadline falls within a span from now")
async def at_risk(
    request: Request,
    principal: CurrentPrincipal,
    within: Annotated[str, Query(max_length=32, description="2h, 30m, 1h30m or seconds")] = "2h",
    policy: Annotated[str | None, Query(max_length=100)] = None,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    reader = reader_of(request)
    span = parse_within(within)
    size = _limit(reader, limit)
    now = reader.clock.now()
    where = Where(
        ("deadline > {}", now),
        ("deadline <= {}", now + span),
        ("policy = {}", policy),
        ("tenant = ANY({})", principal.scope(tenant)),
    )
    query = (
        f"SELECT * FROM {CLOCK_ROWS}{where.sql('running')} "
        f"ORDER BY deadline, ticket_id, metric LIMIT {where.param(size + 1)}"
    )
    async with reader.db().acquire() as conn:
        rows = await conn.fetch(query, *where.args)
    items = [row_json(r, reader.zone(r["policy"]), now) for r in rows[:size]]
    return {
        "now": instant(now, ZoneInfo("UTC")),
        "within_seconds": span.total_seconds(),
        "limit": size,
        "truncated": len(rows) > size,
        "items": items,
    }


@router.get("/breaches", summary="Clocks breached, or met late, with their deadline in a period")
async def breaches(
    request: Request,
    principal: CurrentPrincipal,
    since: datetime | None = None,
    until: datetime | None = None,
    policy: Annotated[str | None, Query(max_length=100)] = None,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    reader = reader_of(request)
    now = reader.clock.now()
    start, end = period(since, until, now)
    size = _limit(reader, limit)
    where = Where(
        ("deadline >= {}", start),
        ("deadline < {}", end),
        ("policy = {}", policy),
        ("tenant = ANY({})", principal.scope(tenant)),
    )
    # Stored rows are as of each ticket's last event: a clock still running past its deadline
    # is breached now even if no event has rewritten its row since.
    breached = (
        f"(status = 'breached' OR (status = 'met' AND late) "
        f"OR (running AND deadline <= {where.param(now)}))"
    )
    query = (
        f"SELECT * FROM {CLOCK_ROWS}{where.sql(breached)} "
        f"ORDER BY deadline, ticket_id, metric LIMIT {where.param(size + 1)}"
    )
    async with reader.db().acquire() as conn:
        rows = await conn.fetch(query, *where.args)
    return {
        "since": instant(start, ZoneInfo("UTC")),
        "until": instant(end, ZoneInfo("UTC")),
        "limit": size,
        "truncated": len(rows) > size,
        "items": [row_json(r, reader.zone(r["policy"]), now) for r in rows[:size]],
    }


COMPLIANCE = """
SELECT policy, priority, metric, count(*) AS met, count(*) FILTER (WHERE NOT late) AS on_time,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY used_seconds) AS median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY used_seconds) AS p90
FROM (
    SELECT policy, tenant, priority, metric, status, met_at, late, used_seconds FROM sla_clocks
    UNION ALL  -- each earlier cycle (a reopen, a periodic update) counts on its own
    SELECT policy, tenant, priority, metric, CASE WHEN met_at IS NULL THEN 'ended' ELSE 'met'
           END, met_at, late, used_seconds FROM sla_clock_cycles
) AS cycles{where}
GROUP BY policy, priority, metric
"""


@router.get("/compliance", summary="Per policy and priority: clocks met, on time, used time")
async def compliance(
    request: Request,
    principal: CurrentPrincipal,
    policy: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """Clocks met in ``[since, until)`` (by when they were met; all time by default)."""
    reader = reader_of(request)
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
    query = COMPLIANCE.format(where=where.sql("status = 'met'", f"metric = ANY({metrics})"))
    async with reader.db().acquire() as conn:
        rows = await conn.fetch(query, *where.args)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault(
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
    return {
        "since": instant(start, ZoneInfo("UTC")),
        "until": instant(end, ZoneInfo("UTC")),
        "items": sorted(groups.values(), key=lambda g: _priority_order(reader, g)),
    }


def _priority_order(reader: SlaReader, group: Mapping[str, Any]) -> tuple[str, int, str]:
    policy = reader.policies.get(group["policy"])
    ids = [p.id for p in policy.priorities] if policy else []
    rank = ids.index(group["priority"]) if group["priority"] in ids else len(ids)
    return group["policy"], rank, group["priority"]


# --- server-sent events -----------------------------------------------------------------------


def sse(event: str, data: Mapping[str, Any], event_id: str | None = None) -> str:
    """One Server-Sent Events message (``id``, ``event`` and a one-line JSON ``data``)."""
    lines = [f"id: {event_id}"] if event_id else []
    lines += [f"event: {event}", f"data: {json.dumps(data, ensure_ascii=False)}"]
    return "\n".join(lines) + "\n\n"


CHANGED = f"SELECT * FROM {CLOCK_ROWS}{{where}} ORDER BY as_of, ticket_id, metric"


Scope = list[str] | None
"""The tenants a caller's query may return (``Principal.scope``); ``None``: every tenant."""


async def clock_changes(
    reader: SlaReader,
    start: datetime,
    *,
    policy: str | None,
    scope: Callable[[], Awaitable[Scope]],
) -> AsyncIterator[str]:
    """SSE messages for clock rows written after ``start`` (in event time), and for running
    clocks whose deadline passes while the client listens.

    Rows are polled by their ``as_of`` (the time of the ticket's last event). Each poll looks
    back ``stream_overlap_seconds`` past the newest row seen, so a row written late with an
    older event time is still sent; what was already sent (same ticket version and status) is
    not sent again.

    ``scope`` is asked again before every poll (ticket-api's answer is cached for a few
    seconds): a stream lives for hours, and a revoked key or an agent taken off a tenant must
    stop receiving within the cache's time, not at the next reconnect. When the caller no
    longer passes (or ticket-api cannot say), the stream ends; the client's reconnect then gets
    the problem.
    """
    settings = reader.settings
    overlap = timedelta(seconds=settings.stream_overlap_seconds)
    cursor = start
    sent: dict[tuple[UUID, str], tuple[int, str, datetime]] = {}
    tenants = await scope()

    def query(*fixed: tuple[str, Any]) -> tuple[str, list[Any]]:
        where = Where(*fixed, ("policy = {}", policy), ("tenant = ANY({})", tenants))
        return CHANGED.format(where=where.sql()), where.args

    # What was already there when the client connected is not news.
    sql, args = query(("as_of > {}", start - overlap), ("as_of <= {}", start))
    async with reader.db().acquire() as conn:
        for row in await conn.fetch(sql, *args):
            sent[(row["ticket_id"], row["metric"])] = (
                row["ticket_version"],
                row["status"],
                row["as_of"],
            )
    checked = reader.clock.now()
    yield f"retry: 2000\n: since {start.isoformat()}\n\n"
    quiet_since = time.monotonic()
    while True:
        try:
            tenants = await scope()
        except Problem as refused:
            log.info("clock stream ended: the caller no longer passes (%s)", refused.code)
            return
        now = reader.clock.now()
        messages: list[str] = []
        sql, args = query(("as_of > {}", cursor - overlap))
        crossing_sql, crossing_args = query(
            ("deadline > {}", checked), ("deadline <= {}", now), ("running = {}", True)
        )
        async with reader.db().acquire() as conn:
            rows = await conn.fetch(sql, *args)
            crossed = await conn.fetch(crossing_sql, *crossing_args) if now > checked else []
        for row in rows:
            key = (row["ticket_id"], row["metric"])
            mark = (row["ticket_version"], row["status"])
            if key in sent and sent[key][:2] == mark:
                continue
            sent[key] = (*mark, row["as_of"])
            cursor = max(cursor, row["as_of"])
            body = row_json(row, reader.zone(row["policy"]), now) | {"change": "written"}
            messages.append(sse("clock", body, cursor.isoformat()))
        for row in crossed:
            body = row_json(row, reader.zone(row["policy"]), now) | {"change": "deadline_passed"}
            messages.append(sse("clock", body, cursor.isoformat()))
        checked = max(checked, now)
        horizon = cursor - overlap
        for key in [k for k, v in sent.items() if v[2] <= horizon]:
            del sent[key]
        for message in messages:
            yield message
        if messages:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settings.stream_keepalive_seconds:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        await asyncio.sleep(settings.stream_poll_seconds)


@router.get(
    "/stream",
    summary="Server-Sent Events of SLA clock changes",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    principal: CurrentPrincipal,
    since: datetime | None = None,
    policy: Annotated[str | None, Query(max_length=100)] = None,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
) -> StreamingResponse:
    """``event: clock`` messages; resume with ``Last-Event-ID`` (or ``since``), else from now."""
    reader = reader_of(request)
    start = aware(since, "since") or reader.clock.now()
    last_id = request.headers.get("last-event-id")
    if last_id:
        with contextlib.suppress(ValueError):  # not one of ours: from ``since`` or now
            start = datetime.fromisoformat(last_id)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    principal.scope(tenant)  # a customer naming another tenant: 403 now, not a broken stream
    reader.db()  # no pool: a 503 problem now, not a broken stream
    principals: Introspection = request.app.state.principals
    headers = request.headers

    async def scope() -> Scope:
        return (await principals.resolve(headers)).scope(tenant)

    return StreamingResponse(
        clock_changes(reader, start, policy=policy, scope=scope),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"], summary="Alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Database reachable")
    async def readyz(request: Request) -> JSONResponse:
        reader = reader_of(request)
        try:
            pool = reader.db()
            timeout = reader.settings.postgres_connect_timeout
            async with asyncio.timeout(timeout + 1):
                async with pool.acquire(timeout=timeout) as conn:
                    await conn.fetchval("SELECT 1")
        except (*DATABASE_ERRORS, ConnectionError) as exc:
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status_code=503
            )
        body = {"status": "ok", "database": "ok"}
        background = getattr(request.app.state, "background", None)
        if background is not None:
            connected = background.nc is not None and background.nc.is_connected
            attached = background.consumer is not None and background.consumer.attached
            body["nats"] = "ok" if connected else "disconnected"
            body["consumer"] = "attached" if attached else "detached"
            if not (connected and attached):
                body["status"] = "unavailable"
                return JSONResponse(body, status_code=503)
        return JSONResponse(body)
