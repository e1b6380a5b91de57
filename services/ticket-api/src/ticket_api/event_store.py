"""The event store's PostgreSQL recorder, made to fail fast inside a request.

The library retries every recorder call ten times, 0.2 s apart, on any connection error, each
attempt waiting up to the pool's timeout for a connection: with the database down a request
waited about 12 s before its 503, longer than clients wait. Here each call is tried once (the
pool's pre-ping already replaces connections that died while idle), so an outage answers a 503
after one connection timeout; the client retries, with its ``Idempotency-Key`` when it writes.
Not retrying a write also removes a hazard: a commit whose acknowledgement was lost is reported,
not silently tried again as if nothing had happened.

New connections also get a libpq connect timeout (the library passes none, so a silently
dropped network would hold the pool's workers for minutes) and a statement timeout, so that no
statement — a lock wait on the event table included — runs without a deadline.
"""

from __future__ import annotations

import inspect
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

STATEMENT_TIMEOUT_SECONDS = 5
"""Longest any statement may run (or wait for a lock) before PostgreSQL cancels it."""


class FailFastPostgresRecorder(PostgresApplicationRecorder):
    """``PostgresApplicationRecorder`` without the library's retries, with timeouts."""

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
        super().__init__(datastore, **kwargs)


TOPIC = f"{__name__}:{FailFastPostgresRecorder.__name__}"
"""The value of the library's ``APPLICATION_RECORDER_TOPIC`` that selects this recorder."""
