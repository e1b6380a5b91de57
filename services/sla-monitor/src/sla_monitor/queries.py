"""The SQL of sla-monitor's tables, in one place: the projection writes them, the timer loop
fires from them and the read API reads them, so each statement that more than one of them
depends on is written once here.

Tables: ``sla_ticket_events`` (each ticket's events, the projection's source of truth),
``sla_clocks`` and ``sla_clock_cycles`` (each clock as of its ticket's last event, and its
earlier cycles), ``sla_tickets`` (case number, title, assignee, state), ``sla_timers`` (SLA
warnings and breaches to publish), ``sla_actions`` (ticket commands and the close notice to
send, each with its full body), ``sla_fired`` and ``sla_actions_done`` (what was published or
sent, once), ``sla_outbox`` (SLA events queued by the projection) and ``sla_board_sessions``
(the board's sign-ins: the SHA-256 of each session token, who, the CSRF token, the expiry and
the credential sealed under the token, ADR 0021).
"""

from __future__ import annotations

from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sla_ticket_events (
    ticket_id UUID NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
    payload JSONB NOT NULL, at TIMESTAMPTZ NOT NULL, policy TEXT NOT NULL, tenant TEXT NOT NULL,
    PRIMARY KEY (ticket_id, version));
CREATE TABLE IF NOT EXISTS sla_clocks (
    ticket_id UUID NOT NULL, metric TEXT NOT NULL, policy TEXT NOT NULL, tenant TEXT NOT NULL,
    priority TEXT NOT NULL, ticket_type TEXT NOT NULL, status TEXT NOT NULL,
    target_seconds DOUBLE PRECISION, used_seconds DOUBLE PRECISION NOT NULL,
    running BOOLEAN NOT NULL, deadline TIMESTAMPTZ, started_at TIMESTAMPTZ,
    met_at TIMESTAMPTZ, late BOOLEAN NOT NULL, pauses INTEGER NOT NULL,
    as_of TIMESTAMPTZ NOT NULL, ticket_version INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, metric));
CREATE INDEX IF NOT EXISTS sla_clocks_deadline ON sla_clocks (deadline) WHERE running;
-- the board's queue reads running clocks by deadline, stopped ones by time left (ADR 0021)
CREATE INDEX IF NOT EXISTS sla_clocks_running_order ON sla_clocks (deadline, ticket_id, metric)
    WHERE running;
CREATE INDEX IF NOT EXISTS sla_clocks_paused_order
    ON sla_clocks ((target_seconds - used_seconds), ticket_id, metric)
    WHERE NOT running AND status IN ('paused', 'breached');
CREATE TABLE IF NOT EXISTS sla_timers (
    ticket_id UUID NOT NULL, metric TEXT NOT NULL, kind TEXT NOT NULL,
    threshold DOUBLE PRECISION NOT NULL, due TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (ticket_id, metric, kind, threshold));
CREATE INDEX IF NOT EXISTS sla_timers_due ON sla_timers (due);
CREATE TABLE IF NOT EXISTS sla_fired (
    ticket_id UUID NOT NULL, metric TEXT NOT NULL, kind TEXT NOT NULL,
    threshold DOUBLE PRECISION NOT NULL, due TIMESTAMPTZ NOT NULL,
    fired_at TIMESTAMPTZ NOT NULL, event_id TEXT NOT NULL,
    PRIMARY KEY (ticket_id, metric, kind, threshold, due));
CREATE TABLE IF NOT EXISTS sla_outbox (
    seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL,
    body BYTEA NOT NULL, published_at TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS sla_outbox_unpublished ON sla_outbox (seq) WHERE published_at IS NULL;
ALTER TABLE sla_timers ADD COLUMN IF NOT EXISTS armed_by TEXT;
ALTER TABLE sla_outbox ADD COLUMN IF NOT EXISTS traceparent TEXT;
ALTER TABLE sla_clocks ADD COLUMN IF NOT EXISTS cycle INTEGER NOT NULL DEFAULT 1;
CREATE TABLE IF NOT EXISTS sla_clock_cycles (
    ticket_id UUID NOT NULL, metric TEXT NOT NULL, cycle INTEGER NOT NULL, policy TEXT NOT NULL,
    tenant TEXT NOT NULL, priority TEXT NOT NULL, started_at TIMESTAMPTZ, met_at TIMESTAMPTZ,
    deadline TIMESTAMPTZ, used_seconds DOUBLE PRECISION NOT NULL,
    target_seconds DOUBLE PRECISION, late BOOLEAN NOT NULL, breached BOOLEAN NOT NULL,
    PRIMARY KEY (ticket_id, metric, cycle));
CREATE TABLE IF NOT EXISTS sla_tickets (
    ticket_id UUID PRIMARY KEY, case_number TEXT NOT NULL, title TEXT NOT NULL,
    tenant TEXT NOT NULL, policy TEXT NOT NULL, priority TEXT NOT NULL, assignee_id TEXT,
    assignee_name TEXT, state TEXT NOT NULL, opened_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS sla_tickets_case_number ON sla_tickets (case_number);
CREATE TABLE IF NOT EXISTS sla_actions (
    ticket_id UUID NOT NULL, kind TEXT NOT NULL, level INTEGER NOT NULL, due TIMESTAMPTZ NOT NULL,
    command TEXT NOT NULL, body JSONB NOT NULL, armed_by TEXT,
    PRIMARY KEY (ticket_id, kind, level));
CREATE INDEX IF NOT EXISTS sla_actions_due ON sla_actions (due);
CREATE TABLE IF NOT EXISTS sla_board_sessions (
    token_hash BYTEA PRIMARY KEY, principal TEXT NOT NULL, credential BYTEA NOT NULL,
    csrf TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS sla_board_sessions_expiry ON sla_board_sessions (expires_at);
DO $$ BEGIN
    IF to_regclass('sla_actions_done') IS NULL THEN
        CREATE TABLE sla_actions_done (
            ticket_id UUID NOT NULL, kind TEXT NOT NULL, level INTEGER NOT NULL,
            due TIMESTAMPTZ NOT NULL, done_at TIMESTAMPTZ NOT NULL, key TEXT NOT NULL,
            PRIMARY KEY (ticket_id, kind, level, due));
        -- Before sla_actions, actions were sla_timers rows of metric 'ticket' (the level as
        -- threshold) recorded in sla_fired: what they did stays done.
        INSERT INTO sla_actions_done
            SELECT ticket_id, kind, threshold::integer, due, fired_at, event_id FROM sla_fired
            WHERE metric = 'ticket';
    END IF;
END $$;
"""
"""Every table, created if missing; run by the projection and the timer loop on start."""

# --- ticket events and facts ------------------------------------------------------------------

EVENTS_OF = (
    "SELECT version, name, payload, at, policy, tenant FROM sla_ticket_events "
    "WHERE ticket_id = $1 ORDER BY version"
)
"""One ticket's stored events, in order: what the projection and the read API replay."""

# --- timers: SLA warnings and breaches ----------------------------------------------------------

DUE = """
SELECT t.ticket_id, t.metric, t.kind, t.threshold, t.due, t.armed_by, c.policy, c.tenant,
       c.priority,
       c.deadline, c.target_seconds, c.used_seconds, c.ticket_version, c.cycle
FROM sla_timers t JOIN sla_clocks c ON c.ticket_id = t.ticket_id AND c.metric = t.metric
WHERE t.due <= $1 AND NOT EXISTS (
    SELECT 1 FROM sla_fired f
    WHERE (f.ticket_id, f.metric, f.kind, f.threshold, f.due)
        = (t.ticket_id, t.metric, t.kind, t.threshold, t.due))
ORDER BY t.due LIMIT $2
FOR UPDATE OF t SKIP LOCKED
"""
"""The SLA timers due by ``$1`` and not fired yet, at most ``$2``, locked for this loop."""

# A run of fired timers recorded and disarmed in two statements, not two per timer.
RECORD_FIRED_MANY = (
    "INSERT INTO sla_fired (ticket_id, metric, kind, threshold, due, fired_at, event_id) "
    "SELECT x.ticket_id, x.metric, x.kind, x.threshold, x.due, $6, x.event_id "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::float8[], $5::timestamptz[], $7::text[])"
    " AS x(ticket_id, metric, kind, threshold, due, event_id)"
)
DISARM_MANY = (
    "DELETE FROM sla_timers t USING unnest($1::uuid[], $2::text[], $3::text[], $4::float8[],"
    " $5::timestamptz[]) AS x(ticket_id, metric, kind, threshold, due) "
    "WHERE (t.ticket_id, t.metric, t.kind, t.threshold, t.due)"
    " = (x.ticket_id, x.metric, x.kind, x.threshold, x.due)"
)
ARM_TIMERS = (
    # A timer that already fired is not armed again: the due set holds only pending work.
    "INSERT INTO sla_timers (ticket_id, metric, kind, threshold, due, armed_by) "
    "SELECT $1, x.metric, x.kind, x.threshold, x.due, $6 "
    "FROM unnest($2::text[], $3::text[], $4::float8[], $5::timestamptz[]) "
    "AS x(metric, kind, threshold, due) WHERE NOT EXISTS (SELECT 1 FROM sla_fired f "
    "WHERE (f.ticket_id, f.metric, f.kind, f.threshold, f.due) "
    "= ($1, x.metric, x.kind, x.threshold, x.due))"
)
ANNOUNCED_BREACHES = "SELECT metric, due FROM sla_fired WHERE ticket_id = $1 AND kind = 'breach'"
RECORD_ANNOUNCED_BREACH = (
    "INSERT INTO sla_fired VALUES ($1, $2, 'breach', 1.0, $3, $4, $5) ON CONFLICT DO NOTHING"
)

# --- actions: ticket commands and the close notice ----------------------------------------------

LEGACY_ACTION_TICKETS = "SELECT DISTINCT ticket_id FROM sla_timers WHERE metric = 'ticket'"
"""Tickets with actions armed as timers (metric ``ticket``) by an earlier version: refreshing
them from their events arms ``sla_actions`` instead (``SlaProjection.setup``)."""
DISARM_LEGACY_ACTIONS = "DELETE FROM sla_timers WHERE ticket_id = $1 AND metric = 'ticket'"

DUE_ACTIONS = """
SELECT a.ticket_id, a.kind, a.level, a.due, a.command, a.body, a.armed_by, c.policy, c.tenant,
       c.ticket_version
FROM sla_actions a JOIN sla_clocks c ON c.ticket_id = a.ticket_id AND c.metric = 'resolution'
WHERE a.due <= $1 AND (a.command = 'notify' OR $3) AND NOT EXISTS (
    SELECT 1 FROM sla_actions_done d
    WHERE (d.ticket_id, d.kind, d.level, d.due) = (a.ticket_id, a.kind, a.level, a.due))
ORDER BY a.due LIMIT $2
FOR UPDATE OF a SKIP LOCKED
"""
"""Actions due by ``$1`` and not done, at most ``$2``; ticket commands only when ``$3`` (a
ticket-api to send them to), the customer's notice always."""

RECORD_DONE = "INSERT INTO sla_actions_done VALUES ($1, $2, $3, $4, $5, $6)"
DISARM_ACTION = "DELETE FROM sla_actions WHERE (ticket_id, kind, level, due) = ($1, $2, $3, $4)"
ARMED_ACTIONS = "SELECT kind, level FROM sla_actions WHERE ticket_id = $1"
ARM_ACTIONS = (
    # An action already done is not armed again; each remembers the trace that armed it.
    "INSERT INTO sla_actions (ticket_id, kind, level, due, command, body, armed_by) "
    "SELECT $1, x.kind, x.level, x.due, x.command, x.body, $7 "
    "FROM unnest($2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::jsonb[]) "
    "AS x(kind, level, due, command, body) WHERE NOT EXISTS (SELECT 1 FROM sla_actions_done d "
    "WHERE (d.ticket_id, d.kind, d.level, d.due) = ($1, x.kind, x.level, x.due))"
)
ARMED_COUNT = "SELECT (SELECT count(*) FROM sla_timers) + (SELECT count(*) FROM sla_actions)"

# --- the read API -----------------------------------------------------------------------------

CLOCK_ROWS = (
    "(SELECT c.*, t.case_number, t.title, t.assignee_id, t.assignee_name, t.state "
    "FROM sla_clocks c LEFT JOIN sla_tickets t USING (ticket_id)) AS clocks"
)
"""``sla_clocks`` rows with the names of their ticket. A left join: a clock projected before
``sla_tickets`` existed is still listed (its names are null until a rebuild fills them)."""

TICKET_BY_CASE_NUMBER = (
    "SELECT ticket_id FROM sla_tickets{where} "
    "ORDER BY opened_at DESC, ticket_id LIMIT 1"  # a number issued twice: the newest
)

CLOCKS_PAGE = (
    "SELECT * FROM " + CLOCK_ROWS + "{where} ORDER BY deadline, ticket_id, metric LIMIT {limit}"
)
"""A page of clock rows by deadline (at risk, breaches)."""

CHANGED = "SELECT * FROM " + CLOCK_ROWS + "{where} ORDER BY as_of, ticket_id, metric"
"""Clock rows by when they were written (the stream)."""

BREACHED = (
    # Stored rows are as of each ticket's last event: a clock still running past its
    # deadline is breached now even if no event has rewritten its row since.
    "(status = 'breached' OR (status = 'met' AND late) OR (running AND deadline <= {now}))"
)

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
