"""Events the outbox relay could not publish, parked so that the events behind them go on.

The event store checks every event against the contract before saving it, so an event should
never be unpublishable. If one still is (history written before a rule was added, a contract
tightened later, a message NATS refuses), blocking the relay on it would stop every later
event of every tenant: no SLA clock, no timer, no mail. The relay parks it here instead — in the
store's own database, in the same transaction that moves its position past it — and an operator
republishes it once the cause is fixed (``docs/operations.md``, "A parked event").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ticket_api.log_position import Dialect


@dataclass(frozen=True)
class ParkedEvent:
    """One notification of the log that is not (yet) in JetStream, and why."""

    notification_id: int
    ticket_id: str
    ticket_version: int
    topic: str
    reason: str
    parked_at: datetime
    republish_requested: bool
    republished_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "ticket_id": self.ticket_id,
            "ticket_version": self.ticket_version,
            "event": self.topic.rsplit(".", 1)[-1],
            "reason": self.reason,
            "parked_at": self.parked_at.isoformat(),
            "republish_requested": self.republish_requested,
            "republished_at": self.republished_at.isoformat() if self.republished_at else None,
        }


COLUMNS = (
    "notification_id, ticket_id, ticket_version, topic, reason, parked_at, "
    "republish_requested, republished_at"
)


class ParkedEvents:
    """The relay's dead letters: written by the relay, listed and released by an operator."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        with dialect.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS outbox_parked_events ("
                "notification_id BIGINT PRIMARY KEY, ticket_id TEXT NOT NULL, "
                "ticket_version BIGINT NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL, "
                "parked_at TEXT NOT NULL, republish_requested BOOLEAN NOT NULL DEFAULT FALSE, "
                "republished_at TEXT)"
            )

    def park_in(self, cursor: Any, parked: list[tuple[int, str, int, str, str]]) -> None:
        """Record ``(notification id, ticket id, version, topic, reason)`` rows inside the
        caller's transaction (the one that moves the relay past them)."""
        now = datetime.now(UTC).isoformat()
        for notification_id, ticket_id, version, topic, reason in parked:
            cursor.execute(
                self.dialect.sql(
                    "INSERT INTO outbox_parked_events (notification_id, ticket_id, "
                    "ticket_version, topic, reason, parked_at) VALUES (:id, :ticket, :version, "
                    ":topic, :reason, :at) ON CONFLICT (notification_id) DO UPDATE SET "
                    "reason = :reason, republish_requested = FALSE, republished_at = NULL"
                ),
                {
                    "id": notification_id,
                    "ticket": ticket_id,
                    "version": version,
                    "topic": topic,
                    "reason": reason[:2000],
                    "at": now,
                },
            )

    def park(self, parked: list[tuple[int, str, int, str, str]]) -> None:
        """Record rows in a transaction of their own (a republish that failed again)."""
        with self.dialect.datastore.transaction(commit=True) as cursor:
            self.park_in(cursor, parked)

    def waiting(self) -> list[ParkedEvent]:
        """Parked and not republished, oldest first."""
        return self._select("WHERE republished_at IS NULL ORDER BY notification_id")

    def all(self, limit: int = 200) -> list[ParkedEvent]:
        return self._select(f"ORDER BY notification_id DESC LIMIT {int(limit)}")

    def count_waiting(self) -> int:
        with self.dialect.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT COUNT(*) AS n FROM outbox_parked_events WHERE republished_at IS NULL"
            )
            return int(cursor.fetchone()["n"])

    def request_republish(self, notification_id: int) -> ParkedEvent | None:
        """Ask the relay to publish a parked event again (after the cause was fixed)."""
        with self.dialect.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.dialect.sql(
                    "UPDATE outbox_parked_events SET republish_requested = TRUE "
                    "WHERE notification_id = :id AND republished_at IS NULL"
                ),
                {"id": notification_id},
            )
        found = self._select(
            self.dialect.sql("WHERE notification_id = :id"), {"id": notification_id}
        )
        return found[0] if found else None

    def requested(self) -> list[ParkedEvent]:
        return [p for p in self.waiting() if p.republish_requested]

    def republished(self, notification_id: int) -> None:
        with self.dialect.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.dialect.sql(
                    "UPDATE outbox_parked_events SET republished_at = :at, "
                    "republish_requested = FALSE WHERE notification_id = :id"
                ),
                {"id": notification_id, "at": datetime.now(UTC).isoformat()},
            )

    def _select(self, where: str, params: dict[str, Any] | None = None) -> list[ParkedEvent]:
        with self.dialect.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT {COLUMNS} FROM outbox_parked_events {where}", params or {})
            return [
                ParkedEvent(
                    notification_id=int(row["notification_id"]),
                    ticket_id=str(row["ticket_id"]),
                    ticket_version=int(row["ticket_version"]),
                    topic=str(row["topic"]),
                    reason=str(row["reason"]),
                    parked_at=datetime.fromisoformat(str(row["parked_at"])),
                    republish_requested=bool(row["republish_requested"]),
                    republished_at=(
                        datetime.fromisoformat(str(row["republished_at"]))
                        if row["republished_at"]
                        else None
                    ),
                )
                for row in cursor.fetchall()
            ]
