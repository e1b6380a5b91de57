"""Who may publish: one outbox relay at a time among ticket-api replicas.

PostgreSQL deployments use a session advisory lock held on a dedicated connection: the server
releases it the moment that connection or its process dies, so another replica takes over
without any expiry to wait for. The embedded SQLite set-up runs on one machine, where an
exclusive ``flock`` on a file in the data directory does the same job.
"""

from __future__ import annotations

import fcntl
import os
import zlib
from pathlib import Path
from typing import Any, Protocol

import psycopg

LOCK_NAME = "supportdesk:outbox-relay"


class Lease(Protocol):
    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True while we hold it."""
        ...

    def still_held(self) -> bool:
        """Whether we still hold it (the connection behind it may have died)."""
        ...

    def release(self) -> None: ...


class FileLease:
    """An exclusive advisory lock on a file (one machine; released when the process dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


class PostgresLease:
    """A PostgreSQL session advisory lock, held for as long as our connection lives."""

    def __init__(self, env: dict[str, Any]) -> None:
        self._conninfo = psycopg.conninfo.make_conninfo(
            host=env.get("POSTGRES_HOST"),
            port=env.get("POSTGRES_PORT") or "5432",
            dbname=env.get("POSTGRES_DBNAME"),
            user=env.get("POSTGRES_USER"),
            password=env.get("POSTGRES_PASSWORD"),
            connect_timeout=env.get("POSTGRES_CONNECT_TIMEOUT") or "5",
        )
        self._key = zlib.crc32(LOCK_NAME.encode())
        self._conn: psycopg.Connection[Any] | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None and self.still_held():
            return True
        self.release()
        conn = psycopg.connect(self._conninfo, autocommit=True)
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        if row and row[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            self._conn = None  # the session is gone, and the lock with it
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # ends the session: the server drops the lock
            finally:
                self._conn = None
