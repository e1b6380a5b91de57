"""The ticket list: a read model for searching tickets, projected from the notification log.

long: following the log, building a row and indexing its text are one transaction's work on one
table, written for two SQL dialects; split, each half would need the other's private column
list.

The event store's notification log (the library's gap-free global sequence) is followed from a
stored position; each batch of tickets is upserted and the position advanced in one database
transaction, so the list is never ahead of or behind what it says it has read, and a crash
simply resumes. It lives in the event store's own database (SQLite file or PostgreSQL). It is
disposable: when its shape changes, the table is rebuilt from the log.

Rows are the tickets' latest state read through the aggregate itself (no second copy of the
lifecycle rules). ticket-api catches the list up right after its own writes and before each
query, so a client sees its own changes at once; several replicas catching up at the same time
are harmless because the position only moves forward by compare-and-set.

Full text (``text_search``) covers a ticket's title, description and public messages (public
replies, the customer's replies, requests for information, resolution summaries) and nothing
internal: internal notes and replies are never indexed, so no search (a customer's or anyone
else's) can match them. PostgreSQL keeps the terms in a ``tsvector`` column with a GIN index;
SQLite in an FTS5 table (``porter unicode61 remove_diacritics 2``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from ticket_api.application import TicketDesk
from ticket_api.breaches import TicketBreaches
from ticket_api.domain.ticket import Ticket
from ticket_api.list_order import DEFAULT_SORT, ORDERS, InvalidCursor
from ticket_api.log_position import Dialect, LogPosition
from ticket_api.text_search import Query, terms
from ticket_api.wire import is_internal

__all__ = ["InvalidCursor", "Page", "TicketFilter", "TicketList"]

log = logging.getLogger(__name__)

POSITION_NAME = "ticket_list"
BATCH = 500
COLUMNS = (
    "id",
    "case_number",
    "policy",
    "tenant",
    "state",
    "priority",
    "ticket_type",
    "assignee_id",
    "level",
    "title",
    "created_at",
    "updated_at",
    "version",
    "log_position",
    "contact_id",
    "priority_rank",
)
PUBLIC_TEXT = ("body", "request", "summary")
"""Event attributes that are messages: searchable unless the event is internal."""


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    priority: str | None = None
    policy: str | None = None
    tenant: str | None = None
    assignee: str | None = None
    level: int | None = None
    updated_since: datetime | None = None
    created_since: datetime | None = None
    created_before: datetime | None = None
    contact: str | None = None
    text: Query | None = None
    breached: bool | None = None
    """Tickets with (True) or without (False) an SLA breach sla-monitor announced (``breaches``)."""
    tenants: tuple[str, ...] | None = None
    """Only these tenants' tickets (the caller's scope); None: every tenant."""


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


class TicketList:
    """Follows the notification log into the ``ticket_list`` table and answers searches."""

    def __init__(self, desk: TicketDesk) -> None:
        self.desk = desk
        self.datastore: Any = desk.recorder.datastore  # type: ignore[attr-defined]
        self.dialect = Dialect(self.datastore)
        self.postgres = self.dialect.postgres
        self._ticket_topics = {get_topic(cls) for cls in _ticket_event_classes()}
        self._lock = threading.Lock()
        self.position = LogPosition(self.dialect, POSITION_NAME)
        self._create_tables()
        self.breaches = TicketBreaches(self.datastore)
        """Which tickets breached (``breached`` filter), fed by ``breaches.BreachFollower``."""
        self._pending = threading.Event()
        self._closing = False
        self._worker: threading.Thread | None = None

    def close(self) -> None:
        """Stop the background worker (at shutdown, before the store closes)."""
        self._closing = True
        self._pending.set()
        if self._worker is not None:
            self._worker.join(timeout=10)

    def catch_up_soon(self) -> None:
        """Ask the background worker to catch up (after a write; never blocks the caller)."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="ticket-list", daemon=True)
            self._worker.start()
        self._pending.set()

    def _work(self) -> None:
        while True:
            self._pending.wait()
            self._pending.clear()
            if self._closing:
                return
            try:
                self.catch_up()
            except Exception:  # the next write or search tries again
                log.exception("the ticket list could not catch up")

    # -- SQL dialects ----------------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        return self.dialect.sql(statement)

    def _create_tables(self) -> None:
        """Create the list; rebuild it from the log if it has an older shape."""
        timestamp = "TIMESTAMPTZ" if self.postgres else "TEXT"
        table = (
            "CREATE TABLE IF NOT EXISTS ticket_list ("
            "id TEXT PRIMARY KEY, case_number TEXT NOT NULL, policy TEXT NOT NULL, "
            "tenant TEXT NOT NULL, state TEXT NOT NULL, priority TEXT NOT NULL, "
            "ticket_type TEXT NOT NULL, assignee_id TEXT, level INTEGER NOT NULL, "
            f"title TEXT NOT NULL, created_at {timestamp} NOT NULL, "
            f"updated_at {timestamp} NOT NULL, version INTEGER NOT NULL, "
            "log_position BIGINT NOT NULL, contact_id TEXT, priority_rank INTEGER NOT NULL"
            + (", search TSVECTOR NOT NULL)" if self.postgres else ")")
        )
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(table)
            cursor.execute(
                "SELECT COUNT(*) AS n FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = 'ticket_list' AND column_name = 'priority_rank'"
                if self.postgres
                else "SELECT COUNT(*) AS n FROM pragma_table_info('ticket_list') "
                "WHERE name = 'priority_rank'"
            )
            if not cursor.fetchone()["n"]:
                cursor.execute("DROP TABLE ticket_list")
                cursor.execute("DROP TABLE IF EXISTS ticket_text")
                cursor.execute(table)
                cursor.execute(
                    self._sql("UPDATE read_model_position SET position = 0 WHERE name = :name"),
                    {"name": POSITION_NAME},
                )
            for index in ("log_position", "created_at", "priority_rank"):
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS ticket_list_{index} ON ticket_list ({index})"
                )
            if self.postgres:
                cursor.execute(
                    "CREATE INDEX IF NOT EXISTS ticket_list_search ON ticket_list "
                    "USING GIN (search)"
                )
            else:
                cursor.execute(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS ticket_text USING fts5("
                    "id UNINDEXED, terms, tokenize = 'porter unicode61 remove_diacritics 2')"
                )

    # -- following the log -----------------------------------------------------------------

    def catch_up(self) -> int:
        """Project every notification not yet read; returns the position reached."""
        with self._lock:
            while True:
                position = self.position.get()
                notifications = self.desk.recorder.select_notifications(
                    start=position + 1, limit=BATCH
                )
                if not notifications:
                    return position
                # ticket → (newest version, its place in the log) in this batch
                latest: dict[UUID, tuple[int, int]] = {}
                for n in notifications:
                    if n.topic in self._ticket_topics:
                        latest[UUID(str(n.originator_id))] = (n.originator_version, n.id)
                rows = [
                    self._row(tid, version, log_position)
                    for tid, (version, log_position) in latest.items()
                ]
                if not self._commit(rows, position, notifications[-1].id):
                    continue  # another process advanced the position: read again from there

    def _commit(self, rows: list[dict[str, Any]], old: int, new: int) -> bool:
        names = [*COLUMNS, "search"] if self.postgres else list(COLUMNS)
        values = [":" + c for c in COLUMNS]
        if self.postgres:
            values.append("to_tsvector('english', :terms)")
        upsert = self._sql(
            f"INSERT INTO ticket_list ({', '.join(names)}) VALUES ({', '.join(values)}) "
            "ON CONFLICT (id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in names if c != "id")
            + " WHERE excluded.version > ticket_list.version"
        )
        try:
            with self.datastore.transaction(commit=True) as cursor:
                if not self.position.advance_in(cursor, old, new):
                    raise _Lost  # rolls the transaction back
                for row in rows:
                    cursor.execute(upsert, row)
                    if not self.postgres:  # the text follows the row only if the row did
                        current = (
                            "EXISTS (SELECT 1 FROM ticket_list WHERE id = :id "
                            "AND version = :version)"
                        )
                        cursor.execute(f"DELETE FROM ticket_text WHERE id = :id AND {current}", row)
                        cursor.execute(
                            "INSERT INTO ticket_text (id, terms) "
                            f"SELECT :id, :terms WHERE {current}",
                            row,
                        )
        except _Lost:
            return False
        return True

    def _row(self, ticket_id: UUID, version: int, log_position: int) -> dict[str, Any]:
        ticket = self.desk.ticket(ticket_id, version=version)
        messages = [
            getattr(event, name)
            for event in self.desk.events.get(ticket_id, lte=version)
            if isinstance(event, Ticket.Event) and not is_internal(event)
            for name in PUBLIC_TEXT
            if isinstance(getattr(event, name, None), str)
        ]
        policy = self.desk.policies.get(ticket.policy)
        ranks = [p.id for p in policy.priorities] if policy else []
        return {
            "id": str(ticket.id),
            "case_number": ticket.case_number,
            "policy": ticket.policy,
            "tenant": ticket.tenant,
            "state": ticket.state.value,
            "priority": ticket.priority,
            "ticket_type": ticket.ticket_type,
            "assignee_id": ticket.assignee["id"] if ticket.assignee else None,
            "level": ticket.level,
            "title": ticket.title,
            "created_at": self._time(ticket.created_on),
            "updated_at": self._time(ticket.modified_on),
            "version": ticket.version,
            "log_position": log_position,
            "contact_id": ticket.contact.get("id"),
            "priority_rank": ranks.index(ticket.priority) if ticket.priority in ranks else 99,
            "terms": terms("\n".join([ticket.title, ticket.description, *messages])),
        }

    def _time(self, value: datetime) -> Any:
        # SQLite keeps ISO text in UTC with a fixed width, so text order is time order.
        utc = value.astimezone(UTC)
        return utc if self.postgres else utc.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")

    # -- searching -------------------------------------------------------------------------

    def search(
        self,
        where: TicketFilter,
        *,
        limit: int,
        cursor: str | None = None,
        sort: str = DEFAULT_SORT,
    ) -> Page:
        """Tickets matching the filter in the ``sort`` order (``list_order``); ``cursor``
        continues a previous page.

        The default is commit order: the position of each ticket's latest event in the
        notification log, so a ticket changed after a page was read moves past the cursor and
        is seen again, and a client paging to the end never misses a change. Keyset
        pagination: stable under concurrent writes, no OFFSET scans.
        """
        self.catch_up()
        order = ORDERS[sort]
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": limit + 1}
        for column, value in (
            ("state", where.status),
            ("priority", where.priority),
            ("policy", where.policy),
            ("tenant", where.tenant),
            ("assignee_id", where.assignee),
            ("level", where.level),
            ("contact_id", where.contact),
        ):
            if value is not None:
                clauses.append(f"{column} = :{column}")
                params[column] = value
        if where.tenants is not None:
            names = [f"scope{i}" for i in range(len(where.tenants))] or ["scope_none"]
            clauses.append(f"tenant IN ({', '.join(':' + n for n in names)})")
            params |= dict(zip(names, where.tenants or ("",), strict=False))
        times: tuple[tuple[str, str, datetime | None], ...] = (
            ("since", "updated_at >= :since", where.updated_since),
            ("created_since", "created_at >= :created_since", where.created_since),
            ("created_before", "created_at < :created_before", where.created_before),
        )
        for name, clause, moment in times:
            if moment is not None:
                clauses.append(clause)
                params[name] = self._time(moment)
        if where.breached is not None:
            clauses.append(
                ("" if where.breached else "NOT ")
                + "EXISTS (SELECT 1 FROM ticket_sla_breaches b WHERE b.ticket_id = ticket_list.id)"
            )
        if where.text is not None:
            if self.postgres:
                clauses.append("search @@ to_tsquery('english', :text)")
                params["text"] = where.text.for_postgres()
            else:
                clauses.append("id IN (SELECT id FROM ticket_text WHERE ticket_text MATCH :text)")
                params["text"] = where.text.for_fts5()
        if cursor is not None:
            clause, after = order.after(cursor)
            clauses.append(clause)
            params |= self._key_params(order.column, after)
        query = (
            f"SELECT {', '.join(COLUMNS)} FROM ticket_list"
            + (" WHERE " + " AND ".join(clauses) if clauses else "")
            + f" ORDER BY {order.sql()} LIMIT :limit"
        )
        with self.datastore.transaction(commit=False) as db:
            db.execute(self._sql(query), params)
            fetched = [dict(zip(COLUMNS, _values(r), strict=True)) for r in db.fetchall()]
        rows = fetched[:limit]
        for row in rows:
            if isinstance(row["updated_at"], str):
                row["updated_at"] = datetime.fromisoformat(row["updated_at"])
                row["created_at"] = datetime.fromisoformat(row["created_at"])
        if len(fetched) <= limit:
            return Page(rows, None)
        last = rows[-1]
        key = last[order.column]
        return Page(
            rows, order.cursor(last, key.isoformat() if order.column == "created_at" else str(key))
        )

    def _key_params(self, column: str, after: dict[str, Any]) -> dict[str, Any]:
        """A cursor's sort key as the column's type (the cursor carries it as text)."""
        if "after_key" not in after:
            return after
        try:
            if column == "created_at":
                key: Any = self._time(datetime.fromisoformat(after["after_key"]))
            else:
                key = int(after["after_key"])
        except ValueError:
            raise InvalidCursor(after["after_key"]) from None
        return {**after, "after_key": key}


class _Lost(Exception):
    """Another process moved the position first."""


def _values(row: Any) -> list[Any]:
    return list(row.values()) if isinstance(row, dict) else list(row)


def _ticket_event_classes() -> list[type]:
    return [
        value
        for value in vars(Ticket).values()
        if isinstance(value, type) and issubclass(value, Ticket.Event)
    ]
