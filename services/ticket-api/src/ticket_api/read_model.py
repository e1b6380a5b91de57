"""The ticket list: a read model for searching tickets, projected from the notification log.

The event store's notification log (the library's gap-free global sequence) is followed from a
stored position; each batch of tickets is upserted and the position advanced in one database
transaction, so the list is never ahead of or behind what it says it has read, and a crash
simply resumes. It lives in the event store's own database (SQLite file or PostgreSQL).

Rows are the tickets' latest state read through the aggregate itself (no second copy of the
lifecycle rules). ticket-api catches the list up right after its own writes and before each
query, so a client sees its own changes at once; several replicas catching up at the same time
are harmless because the position only moves forward by compare-and-set.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from ticket_api.application import TicketDesk
from ticket_api.domain.ticket import Ticket
from ticket_api.log_position import Dialect, LogPosition

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
)


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    priority: str | None = None
    policy: str | None = None
    tenant: str | None = None
    assignee: str | None = None
    level: int | None = None
    updated_since: datetime | None = None
    tenants: tuple[str, ...] | None = None
    """Only these tenants' tickets (the caller's scope); None: every tenant."""


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


class InvalidCursor(ValueError):
    """A pagination cursor that this server did not hand out."""


class TicketList:
    """Follows the notification log into the ``ticket_list`` table and answers searches."""

    def __init__(self, desk: TicketDesk) -> None:
        self.desk = desk
        self.datastore: Any = desk.recorder.datastore  # type: ignore[attr-defined]
        self.dialect = Dialect(self.datastore)
        self.postgres = self.dialect.postgres
        self._ticket_topics = {get_topic(cls) for cls in _ticket_event_classes()}
        self._lock = threading.Lock()
        self._create_tables()
        self.position = LogPosition(self.dialect, POSITION_NAME)
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
        timestamp = "TIMESTAMPTZ" if self.postgres else "TEXT"
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS ticket_list ("
                "id TEXT PRIMARY KEY, case_number TEXT NOT NULL, policy TEXT NOT NULL, "
                "tenant TEXT NOT NULL, state TEXT NOT NULL, priority TEXT NOT NULL, "
                "ticket_type TEXT NOT NULL, assignee_id TEXT, level INTEGER NOT NULL, "
                f"title TEXT NOT NULL, created_at {timestamp} NOT NULL, "
                f"updated_at {timestamp} NOT NULL, version INTEGER NOT NULL, "
                "log_position BIGINT NOT NULL)"
            )
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS ticket_list_log ON ticket_list (log_position)"
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
                    self._row(self.desk.ticket(tid, version=version), log_position)
                    for tid, (version, log_position) in latest.items()
                ]
                if not self._commit(rows, position, notifications[-1].id):
                    continue  # another process advanced the position: read again from there

    def _commit(self, rows: list[dict[str, Any]], old: int, new: int) -> bool:
        upsert = self._sql(
            f"INSERT INTO ticket_list ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(':' + c for c in COLUMNS)}) "
            "ON CONFLICT (id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "id")
            + " WHERE excluded.version > ticket_list.version"
        )
        try:
            with self.datastore.transaction(commit=True) as cursor:
                if not self.position.advance_in(cursor, old, new):
                    raise _Lost  # rolls the transaction back
                for row in rows:
                    cursor.execute(upsert, row)
        except _Lost:
            return False
        return True

    def _row(self, ticket: Ticket, log_position: int) -> dict[str, Any]:
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
        }

    def _time(self, value: datetime) -> Any:
        # SQLite keeps ISO text in UTC with a fixed width, so text order is time order.
        utc = value.astimezone(UTC)
        return utc if self.postgres else utc.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")

    # -- searching -------------------------------------------------------------------------

    def search(self, where: TicketFilter, *, limit: int, cursor: str | None = None) -> Page:
        """Tickets matching the filter, least recently changed first; ``cursor`` continues.

        Ordered by the position of each ticket's latest event in the notification log, which
        follows commit order: a ticket changed after a page was read moves past the cursor and
        is seen again, so a client paging to the end never misses a change. Keyset pagination:
        stable under concurrent writes, no OFFSET scans.
        """
        self.catch_up()
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": limit + 1}
        for column, value in (
            ("state", where.status),
            ("priority", where.priority),
            ("policy", where.policy),
            ("tenant", where.tenant),
            ("assignee_id", where.assignee),
            ("level", where.level),
        ):
            if value is not None:
                clauses.append(f"{column} = :{column}")
                params[column] = value
        if where.tenants is not None:
            names = [f"scope{i}" for i in range(len(where.tenants))] or ["scope_none"]
            clauses.append(f"tenant IN ({', '.join(':' + n for n in names)})")
            params |= dict(zip(names, where.tenants or ("",), strict=False))
        if where.updated_since is not None:
            clauses.append("updated_at >= :since")
            params["since"] = self._time(where.updated_since)
        if cursor is not None:
            clauses.append("log_position > :after")
            params["after"] = _decode(cursor)
        query = (
            f"SELECT {', '.join(COLUMNS)} FROM ticket_list"
            + (" WHERE " + " AND ".join(clauses) if clauses else "")
            + " ORDER BY log_position LIMIT :limit"
        )
        with self.datastore.transaction(commit=False) as db:
            db.execute(self._sql(query), params)
            fetched = [dict(zip(COLUMNS, _values(r), strict=True)) for r in db.fetchall()]
        rows = fetched[:limit]
        for row in rows:
            if isinstance(row["updated_at"], str):
                row["updated_at"] = datetime.fromisoformat(row["updated_at"])
                row["created_at"] = datetime.fromisoformat(row["created_at"])
        more = len(fetched) > limit
        return Page(rows, _encode(rows[-1]["log_position"]) if more else None)


class _Lost(Exception):
    """Another process moved the position first."""


def _values(row: Any) -> list[Any]:
    return list(row.values()) if isinstance(row, dict) else list(row)


def _encode(log_position: int) -> str:
    return base64.urlsafe_b64encode(f"after:{log_position}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor(cursor) from exc
    prefix, _, digits = raw.partition(":")
    if prefix != "after" or not re.fullmatch(r"\d{1,18}", digits, re.ASCII):
        raise InvalidCursor(cursor)
    return int(digits)


def _ticket_event_classes() -> list[type]:
    return [
        value
        for value in vars(Ticket).values()
        if isinstance(value, type) and issubclass(value, Ticket.Event)
    ]
