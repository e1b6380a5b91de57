"""Named positions in the event store's notification log, kept in the store's own database.

Whatever follows the log — the ticket list, the outbox relay to NATS — records how far it has
read here. Advancing is compare-and-set, so two followers racing can never move a position
backwards or skip what the other has not finished; a follower that loses simply reads again.
"""

from __future__ import annotations

import re
from typing import Any


class Dialect:
    """The little that differs between the library's SQLite and PostgreSQL datastores."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.postgres = type(datastore).__module__.startswith("eventsourcing.postgres")

    def sql(self, statement: str) -> str:
        """Statements are written with ``:name`` parameters; psycopg wants ``%(name)s``."""
        return re.sub(r"(?<!:):(\w+)", r"%(\1)s", statement) if self.postgres else statement


class LogPosition:
    """How far one follower has read the notification log."""

    def __init__(self, dialect: Dialect, name: str) -> None:
        self.dialect = dialect
        self.name = name
        with dialect.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS read_model_position ("
                "name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )
            cursor.execute(
                dialect.sql(
                    "INSERT INTO read_model_position (name, position) VALUES (:name, 0) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"name": name},
            )

    def get(self) -> int:
        with self.dialect.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                self.dialect.sql("SELECT position FROM read_model_position WHERE name = :name"),
                {"name": self.name},
            )
            return int(cursor.fetchone()["position"])

    def advance_in(self, cursor: Any, old: int, new: int) -> bool:
        """Move from ``old`` to ``new`` inside the caller's transaction; False if it moved."""
        cursor.execute(
            self.dialect.sql(
                "UPDATE read_model_position SET position = :new "
                "WHERE name = :name AND position = :old RETURNING position"
            ),
            {"new": new, "old": old, "name": self.name},
        )
        return cursor.fetchone() is not None

    def advance(self, old: int, new: int) -> bool:
        with self.dialect.datastore.transaction(commit=True) as cursor:
            return self.advance_in(cursor, old, new)
