"""Which tickets breached an SLA clock, for the ticket list's ``breached`` filter.

Breaches are decided by sla-monitor, on its business calendars, and published as
``sla.breached`` on the SLA stream; they are not ticket events, so the aggregate never learns
of them. ticket-api follows that one subject with a durable pull consumer of its own and keeps
one row per breach (ticket, metric, cycle) beside the ticket list, in the event store's
database, so a search can say ``breached=true`` without asking another service per page.

Recording is idempotent by the row's key (``ON CONFLICT DO NOTHING``) and the message is
acked only after its row is committed, so a redelivery after a crash changes nothing: no inbox
is needed. A message that is not a readable ``sla.breached`` is terminated (and logged), never
redelivered forever. SLA events carry no personal data, so nothing here is sealed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from contracts.events import SLA_STREAM, UnknownEventError, from_wire, payload_of
from contracts.events.sla import Breached
from servicekit.messaging import servers
from servicekit.messaging.streams import StreamSettings, ensure_stream
from ticket_api.log_position import Dialect

log = logging.getLogger(__name__)
DURABLE = "ticket-api-breaches"
SUBJECT = "sla.*.*.breached"
TABLE = (
    "CREATE TABLE IF NOT EXISTS ticket_sla_breaches ("
    "ticket_id TEXT NOT NULL, metric TEXT NOT NULL, cycle INTEGER NOT NULL, "
    "PRIMARY KEY (ticket_id, metric, cycle))"
)


class TicketBreaches:
    """The breach rows, in the event store's database (SQLite or PostgreSQL)."""

    def __init__(self, datastore: Any) -> None:
        self.dialect = Dialect(datastore)
        with datastore.transaction(commit=True) as cursor:
            cursor.execute(TABLE)
        self.recorded = 0
        self._progress = threading.Condition()

    def record(self, ticket_id: str, metric: str, cycle: int) -> None:
        """Note a breach; recording the same one again changes nothing."""
        with self.dialect.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.dialect.sql(
                    "INSERT INTO ticket_sla_breaches (ticket_id, metric, cycle) "
                    "VALUES (:ticket_id, :metric, :cycle) ON CONFLICT DO NOTHING"
                ),
                {"ticket_id": ticket_id, "metric": metric, "cycle": cycle},
            )
        with self._progress:
            self.recorded += 1
            self._progress.notify_all()

    def wait_recorded(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` breach messages were recorded (tests, operations)."""
        with self._progress:
            return self._progress.wait_for(lambda: self.recorded >= count, timeout)


class BreachFollower:
    """Follows ``sla.*.*.breached`` into ``TicketBreaches`` until stopped."""

    def __init__(self, breaches: TicketBreaches, nats_url: str, streams: StreamSettings) -> None:
        self.breaches = breaches
        self.nats_url = nats_url
        self.streams = streams
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Consume until ``stop()``; a lost or absent server is waited out, never fatal."""
        while not self._stopping.is_set():
            try:
                await self._follow()
            except (OSError, NatsError) as exc:
                log.warning("breaches: NATS unavailable (%r); trying again", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=2.0)

    async def _follow(self) -> None:
        nc = await nats.connect(servers=servers(self.nats_url))
        try:
            js = nc.jetstream()
            await ensure_stream(js, SLA_STREAM, self.streams)
            config = ConsumerConfig(
                durable_name=DURABLE,
                filter_subject=SUBJECT,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
            )
            await js.add_consumer(SLA_STREAM, config)  # create or update
            subscription = await js.pull_subscribe_bind(durable=DURABLE, stream=SLA_STREAM)
            while not self._stopping.is_set():
                try:
                    messages = await subscription.fetch(100, timeout=1.0)
                except (TimeoutError, NatsTimeoutError):
                    continue
                for message in messages:
                    await self._record(message)
        finally:
            await nc.close()

    async def _record(self, message: Msg) -> None:
        """Record one breach and ack it after the commit; terminate what cannot be read."""
        try:
            event = from_wire(message.data)
            payload = payload_of(event)
        except (ValidationError, UnknownEventError, ValueError) as exc:
            log.error("breaches: unreadable message on %s: %s", message.subject, exc)
            await message.term()
            return
        if isinstance(payload, Breached):
            await asyncio.to_thread(
                self.breaches.record, event.subject, payload.metric.value, payload.cycle
            )
        await message.ack()
