"""Whose turn it is to give a ticket the next case number of its policy.

Case numbers are gap-free, so the next number is only known once the previous open has been
saved. Opens that guess at the same time collide, and every collision is a whole save done for
nothing; under load the redone saves crowded out the useful ones (ADR 15). Taking turns instead
costs one short wait: within a process a lock per policy, and on PostgreSQL also a session
advisory lock per policy, so replicas take turns too (the server drops it if the process dies,
as with the relay's lease). The embedded SQLite store serves one process, so the lock suffices.

A turn is waited for at most a few seconds: past that the caller answers a fast 503 instead of
queueing without end.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors

from ticket_api.log_position import Dialect


class NoTurn(Exception):
    """The turn did not come within the wait allowed."""


class NumberingTurns:
    """One open at a time per policy, in this process and (PostgreSQL) across replicas."""

    def __init__(self, datastore: Any, wait_seconds: float) -> None:
        self.datastore = datastore
        self.postgres = Dialect(datastore).postgres
        self.wait_seconds = wait_seconds
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def turn(self, policy: str) -> Iterator[None]:
        """Hold the policy's turn for the block; raise ``NoTurn`` if it does not come in time."""
        deadline = time.monotonic() + self.wait_seconds
        lock = self._locks.setdefault(policy, threading.Lock())
        if not lock.acquire(timeout=self.wait_seconds):
            raise NoTurn(policy)
        try:
            if self.postgres:
                with self._across_replicas(policy, deadline - time.monotonic()):
                    yield
            else:
                yield
        finally:
            lock.release()

    @contextmanager
    def _across_replicas(self, policy: str, seconds: float) -> Iterator[None]:
        key = zlib.crc32(f"supportdesk:case-numbers:{policy}".encode())
        # Only the thread holding this process's lock gets here, so each replica ties up at
        # most one pooled connection per policy waiting for the other replicas.
        with self.datastore.get_connection() as conn:
            try:
                with conn.transaction():  # SET LOCAL bounds this wait only
                    conn.execute(f"SET LOCAL lock_timeout = '{max(1, int(seconds * 1000))}ms'")
                    conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            except psycopg.errors.LockNotAvailable:
                raise NoTurn(policy) from None
            try:
                yield
            finally:
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                except psycopg.Error:
                    conn.close()  # ending the session is what releases the lock then
