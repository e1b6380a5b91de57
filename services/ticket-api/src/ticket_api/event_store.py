"""The event store's PostgreSQL recorder, made to fail fast inside a request.

The library retries every recorder call ten times, 0.2 s apart, on any connection error, each
attempt waiting up to the pool's timeout for a connection: with the database down a request
waited about 12 s before its 503, longer than clients wait. Here each call is tried once (the
pool's pre-ping already replaces connections that died while idle), so an outage answers a 503
after one connection timeout; the client retries, with its ``Idempotency-Key`` when it writes.
Not retrying a write also removes a hazard: a commit whose acknowledgement was lost is reported,
not silently tried again as if nothing had happened.

The pre-ping itself is kept for connections that sat idle, not paid on every checkout: one
command checks a connection out about ten times (the aggregate, the log position, the case
number's turn, the save, idempotency), and an empty round trip before each was a sizeable share
of a command's time. A connection handed back less than ``RECENTLY_USED_SECONDS`` ago was
answering then; if the database died in between, that one call fails as a 503 and the client
retries, exactly as when it dies during a statement.

New connections also get a libpq connect timeout (the library passes none, so a silently
dropped network would hold the pool's workers for minutes) and a statement timeout, so that no
statement — a lock wait on the event table included — runs without a deadline.
"""

from __future__ import annotations

import inspect
import time
import weakref
from typing import Any

from eventsourcing.postgres import ConnectionPool, PostgresApplicationRecorder, PostgresDatastore

from ticket_api.recorders import POSTGRES_KEY_ROW, IssuesKeysWithEvents

STATEMENT_TIMEOUT_SECONDS = 5
"""Longest any statement may run (or wait for a lock) before PostgreSQL cancels it."""
RECENTLY_USED_SECONDS = 2.0
"""A pooled connection handed back this recently is not pinged again before its next use."""


_NARROWED: weakref.WeakSet[ConnectionPool[Any]] = weakref.WeakSet()


def ping_only_idle_connections(pool: ConnectionPool[Any]) -> None:
    """Make the pool's pre-ping (``POSTGRES_PRE_PING``) skip recently returned connections.

    psycopg_pool takes its ``check`` and ``reset`` callbacks only at construction, which the
    library does; they are replaced here, before the pool opens. ``reset`` runs when a
    connection is handed back: it notes the instant, and ``check`` pings only past
    ``RECENTLY_USED_SECONDS``.
    """
    if pool._check is None or pool in _NARROWED:  # no pre-ping asked for, or done already
        return
    _NARROWED.add(pool)
    returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
    previous_reset = pool._reset

    def reset(conn: Any) -> None:
        if previous_reset is not None:
            previous_reset(conn)
        returned[conn] = time.monotonic()

    def check(conn: Any) -> None:
        if time.monotonic() - returned.get(conn, float("-inf")) < RECENTLY_USED_SECONDS:
            return
        ConnectionPool.check_connection(conn)

    pool._check = check
    pool._reset = reset


class FailFastPostgresRecorder(IssuesKeysWithEvents, PostgresApplicationRecorder):  # type: ignore[misc]
    """``PostgresApplicationRecorder`` without the library's retries, with timeouts."""

    key_row_statement = POSTGRES_KEY_ROW

    insert_events = inspect.unwrap(PostgresApplicationRecorder.insert_events)
    select_events = inspect.unwrap(PostgresApplicationRecorder.select_events)
    select_notifications = inspect.unwrap(PostgresApplicationRecorder.select_notifications)
    max_notification_id = inspect.unwrap(PostgresApplicationRecorder.max_notification_id)

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        # The pool opens lazily (on the first statement, in super().__init__ at the earliest
        # when tables are created), so these apply to every connection it makes.
        connect = datastore.pool.kwargs
        if isinstance(connect, dict):
            connect.setdefault("connect_timeout", max(2, round(datastore.pool.timeout)))
            connect.setdefault("options", f"-c statement_timeout={STATEMENT_TIMEOUT_SECONDS}s")
        ping_only_idle_connections(datastore.pool)
        super().__init__(datastore, **kwargs)


TOPIC = f"{__name__}:{FailFastPostgresRecorder.__name__}"
"""The value of the library's ``APPLICATION_RECORDER_TOPIC`` that selects this recorder."""
