"""A new ticket's data key is written in the same transaction as the ticket (ADR 23).

Opening a ticket (or registering a contact) issues its data key. Written on its own, the key
cost a second commit — a second fsync on SQLite, a second round trip on PostgreSQL — on every
open; and a crash between the two left a key without a ticket. The library's recorders run
``_insert_events`` inside the transaction that stores the events (its extension point for
what must commit with them): this mixin writes there the key rows ``TicketStore.save``
passes as ``personal_data_keys``. A key row that already exists is left alone; its aggregate's
events then conflict too, and the whole transaction is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

KEY_ROWS = "personal_data_keys"
"""The ``save()`` keyword carrying the key rows (dicts: id, tenant, contact, wrapped, now)."""
INSERT = (
    "INSERT INTO personal_data_keys (key_id, tenant, contact_id, wrapped, created_at) "
    "VALUES ({id}, {tenant}, {contact}, {wrapped}, {now}) ON CONFLICT (key_id) DO NOTHING"
)
NAMES = ("id", "tenant", "contact", "wrapped", "now")
SQLITE_KEY_ROW = INSERT.format(**{n: f":{n}" for n in NAMES})
POSTGRES_KEY_ROW = INSERT.format(**{n: f"%({n})s" for n in NAMES})


class IssuesKeysWithEvents:
    """Recorder mixin: the ``personal_data_keys`` rows go in with the events."""

    key_row_statement: str

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        for row in kwargs.get(KEY_ROWS) or ():
            c.execute(self.key_row_statement, row)
        return super()._insert_events(c, stored_events, **kwargs)  # type: ignore[misc]


class SQLiteRecorder(IssuesKeysWithEvents, SQLiteApplicationRecorder):
    key_row_statement = SQLITE_KEY_ROW


class PostgresRecorder(IssuesKeysWithEvents, PostgresApplicationRecorder):  # type: ignore[misc]
    key_row_statement = POSTGRES_KEY_ROW


SQLITE_TOPIC = f"{__name__}:{SQLiteRecorder.__name__}"
POSTGRES_TOPIC = f"{__name__}:{PostgresRecorder.__name__}"
