"""The consumer toolkit: a durable JetStream pull consumer that handles each event exactly once.

long: reconciling the durable, fetching, the batch with its one-by-one fallback, backoff and
dead letters are one state machine over the same messages, and its guarantees are read in one
place.

sla-monitor and notifier both consume the event streams the same careful way:

- a durable pull consumer, whose configuration is *reconciled* at start-up (nats-py silently
  keeps an existing durable's old configuration when you subscribe to it);
- messages fetched in batches, and a fetched batch handled in *one* database transaction: the
  inbox records every event id (``<ticket id>:<version>``) of the batch in one statement, the
  handler runs for the ones seen for the first time, and the messages are acked only after the
  commit — a redelivery after a crash finds the records and is only acked. One transaction per
  message cost a commit (a WAL flush) per event and capped a consumer at ~1,700 events/s; if
  anything in the batch fails, the transaction is rolled back and the batch is handled again one
  message at a time, so a poison message is still isolated and dead-lettered alone;
- a ``TransientError`` (or any unexpected one) is nak'ed with backoff; a message that cannot be
  parsed, or keeps failing until the maximum deliveries, is recorded in a dead-letter table and
  terminated — never an endless loop;
- the W3C trace context in the message headers is continued by the handler's span;
- ``stop()`` drains: the batch in hand is finished before the consumer returns.

Bookkeeping lives in PostgreSQL through asyncpg (``PostgresInbox``).
The inbox (``servicekit.messaging.inbox``) keeps the records; this module is the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NotFoundError
from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from contracts.events import CloudEvent, EventPayload, UnknownEventError, from_wire, payload_of
from servicekit.messaging.inbox import Connection, Inbox, PostgresInbox, Work

__all__ = [
    "Connection",
    "ConsumerSettings",
    "DurableConsumer",
    "Handler",
    "Inbox",
    "PostgresInbox",
    "TransientError",
    "Work",
]

log = logging.getLogger(__name__)
tracer = trace.get_tracer("servicekit.messaging")
meter = metrics.get_meter("servicekit.messaging")
HANDLED = meter.create_counter(
    "supportdesk.consumer.handled", description="Events handled (first time), by consumer"
)
REDELIVERED = meter.create_counter(
    "supportdesk.consumer.redeliveries", description="Deliveries after the first, by consumer"
)
DEAD_LETTERS = meter.create_counter(
    "supportdesk.consumer.dead_letters", description="Events set aside as dead letters"
)
HANDLER_TIME = meter.create_histogram(
    "supportdesk.consumer.handler.duration", unit="s", description="Handling one event"
)
_pending: dict[str, int] = {}


def _observe_pending(_: CallbackOptions) -> list[Observation]:
    return [Observation(n, {"consumer": name}) for name, n in _pending.items()]


meter.create_observable_gauge(
    "supportdesk.consumer.pending",
    callbacks=[_observe_pending],
    description="Messages in the stream not yet delivered to the consumer (as last seen)",
)

Handler = Callable[[CloudEvent, EventPayload, Connection], Awaitable[None]]


class TransientError(Exception):
    """The handler could not do its work now (a dependency is down): redeliver later."""


@dataclass(frozen=True)
class ConsumerSettings:
    stream: str
    durable: str
    filter_subject: str
    max_deliver: int = 5
    ack_wait: float = 30.0
    backoff: tuple[float, ...] = (0.5, 2.0, 10.0, 30.0)
    """Delays before redelivering a failed message (the last one repeats)."""
    batch: int = 100
    fetch_timeout: float = 1.0
    max_ack_pending: int = 1000

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self.filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=self.max_deliver,
            ack_wait=self.ack_wait,
            max_ack_pending=self.max_ack_pending,
        )


class DurableConsumer:
    """Runs a handler over a stream, exactly once per event, until stopped."""

    def __init__(
        self,
        nc: NatsClient,
        settings: ConsumerSettings,
        inbox: Inbox,
        handler: Handler,
        *,
        on_handled: Callable[[], None] | None = None,
        unseal: Callable[[CloudEvent], Awaitable[CloudEvent]] | None = None,
    ) -> None:
        self.nc = nc
        self.unseal = unseal
        """Opens sealed personal data before the event is read (``personal_data.Unsealer``)."""
        self.on_handled = on_handled
        """Called after each newly handled event is committed (to wake a dispatcher)."""
        self.js = nc.jetstream()
        self.settings = settings
        self.inbox = inbox
        self.handler = handler
        self._stopping = asyncio.Event()
        self._progress = asyncio.Condition()
        self.attached = False
        """Bound to its durable and fetching (readiness)."""
        self._attached = asyncio.Event()
        self.handled = 0
        self.duplicates = 0
        self.dead_letters = 0

    async def reconcile(self) -> None:
        """Make the durable's server-side configuration the one in ``settings``."""
        desired = self.settings.config()
        try:
            info = await self.js.consumer_info(self.settings.stream, self.settings.durable)
        except NotFoundError:
            await self.js.add_consumer(self.settings.stream, desired)
            return
        current = info.config
        fields = ("filter_subject", "max_deliver", "ack_wait", "max_ack_pending", "deliver_policy")
        if all(getattr(current, f) == getattr(desired, f) for f in fields):
            return
        log.info("consumer %s: configuration drifted; updating it", self.settings.durable)
        try:
            await self.js.add_consumer(self.settings.stream, desired)  # create-or-update
        except APIError as exc:  # a field the server cannot change in place
            log.warning("consumer %s: recreating (%s)", self.settings.durable, exc)
            await self.js.delete_consumer(self.settings.stream, self.settings.durable)
            await self.js.add_consumer(self.settings.stream, desired)

    async def run(self) -> None:
        """Fetch and handle batches until ``stop()``; the batch in hand is always finished."""
        await self.reconcile()
        subscription = await self.js.pull_subscribe_bind(
            durable=self.settings.durable, stream=self.settings.stream
        )
        self.attached = True
        self._attached.set()
        try:
            while not self._stopping.is_set():
                try:
                    messages = await subscription.fetch(
                        self.settings.batch, timeout=self.settings.fetch_timeout
                    )
                except (TimeoutError, NatsTimeoutError):
                    continue  # nothing new: an empty fetch is a timeout in nats-py
                except NatsError as exc:
                    # The server went away, a leader is being elected, the client reconnects:
                    # a consumer outlives all of that. Pause a moment and fetch again.
                    log.warning(
                        "consumer %s: fetch failed (%r); retrying", self.settings.durable, exc
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), timeout=1.0)
                    continue
                try:
                    await self.handle_batch(messages)
                except NatsError as exc:  # an ack was lost: it comes back after ack_wait
                    name = self.settings.durable
                    log.warning("consumer %s: %r; it will be redelivered", name, exc)
        finally:
            self.attached = False
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    def stop(self) -> None:
        self._stopping.set()

    async def wait_attached(self) -> None:
        """Wait until ``run`` has bound the durable (start-up completes only then)."""
        await self._attached.wait()

    async def handle_batch(self, messages: list[Msg]) -> None:
        """Handle a fetched batch in one transaction; one by one if anything in it fails.

        Unreadable messages are dead-lettered first, on their own. A batch whose every message
        was delivered for the first time is tried as a whole; a batch holding a redelivery (a
        message that failed before, or whose ack was lost) goes one by one straight away, so
        backoff and the delivery count keep their meaning for the message that needs them.
        """
        if len(messages) == 1 or any(m.metadata.num_delivered > 1 for m in messages):
            for message in messages:
                await self.handle(message)
            return
        readable: list[tuple[Msg, CloudEvent, EventPayload]] = []
        for message in messages:
            parsed = await self._read(message)
            if parsed is not None:
                readable.append((message, *parsed))
        # The same event twice in one fetch: only its first copy is handled, the rest are dups.
        firsts: dict[str, tuple[Msg, CloudEvent, EventPayload]] = {}
        for item in readable:
            firsts.setdefault(item[1].id, item)
        started = time.perf_counter()
        try:
            outcome = await self.inbox.process_batch(
                [
                    (event.id, self._traced_work(msg, event, payload))
                    for msg, event, payload in firsts.values()
                ]
            )
        except Exception as exc:
            log.info(
                "consumer %s: batch of %d failed (%r); handling it one by one",
                self.settings.durable,
                len(readable),
                exc,
            )
            for message, _, _ in readable:
                await self.handle(message)
            return
        new = {event_id for event_id, done in zip(firsts, outcome, strict=True) if done}
        each = (time.perf_counter() - started) / max(len(firsts), 1)
        consumer = {"consumer": self.settings.durable}
        for message, event, _ in readable:
            await message.ack()
            HANDLER_TIME.record(each, consumer)
            done = event.id in new and firsts[event.id][0] is message
            await self._count(done, consumer)

    def _traced_work(self, message: Msg, event: CloudEvent, payload: EventPayload) -> Work:
        """The handler's work for one message, inside a span continuing its trace."""

        async def work(conn: Connection) -> None:
            with self._span(message, event):
                await self.handler(event, payload, conn)

        return work

    def _span(self, message: Msg, event: CloudEvent) -> contextlib.AbstractContextManager[object]:
        return tracer.start_as_current_span(
            f"process {event.event_name}",
            context=propagate.extract(message.headers or {}),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": message.subject,
                "messaging.operation.type": "process",
                "supportdesk.ticket.id": event.subject,
                "messaging.message.id": event.id,
                "messaging.consumer.group.name": self.settings.durable,
            },
        )

    async def _read(self, message: Msg) -> tuple[CloudEvent, EventPayload] | None:
        """Parse a message; an unreadable one is dead-lettered here and ``None`` returned."""
        _pending[self.settings.durable] = message.metadata.num_pending or 0
        deliveries = message.metadata.num_delivered
        if deliveries > 1:
            REDELIVERED.add(1, {"consumer": self.settings.durable})
        try:
            event = from_wire(message.data)
            if self.unseal is not None:
                event = await self.unseal(event)
            return event, payload_of(event)
        except (ValidationError, UnknownEventError, ValueError) as exc:
            await self._poison(message, None, f"unreadable event: {exc}", deliveries)
            return None
        except TransientError as exc:  # its key cannot be fetched now: read it later
            delay = self.settings.backoff[min(deliveries, len(self.settings.backoff)) - 1]
            log.warning("event on %s not opened (%r); retrying in %ss", message.subject, exc, delay)
            await message.nak(delay=delay)
            return None

    async def _count(self, done: bool, consumer: dict[str, str]) -> None:
        if done:
            HANDLED.add(1, consumer)
        if done and self.on_handled is not None:
            self.on_handled()
        async with self._progress:
            if done:
                self.handled += 1
            else:
                self.duplicates += 1
            self._progress.notify_all()

    async def handle(self, message: Msg) -> None:
        """Handle one message in its own transaction (the fallback, and redeliveries)."""
        deliveries = message.metadata.num_delivered
        consumer = {"consumer": self.settings.durable}
        started = time.perf_counter()
        parsed = await self._read(message)
        if parsed is None:
            return
        event, payload = parsed
        with self._span(message, event):
            try:
                done = await self.inbox.process(
                    event.id, lambda conn: self.handler(event, payload, conn)
                )
            except Exception as exc:
                if deliveries >= self.settings.max_deliver:
                    await self._poison(
                        message, event.id, f"failed {deliveries} times: {exc!r}", deliveries
                    )
                    return
                delay = self.settings.backoff[min(deliveries, len(self.settings.backoff)) - 1]
                log.warning(
                    "event %s failed (delivery %d), retrying in %ss: %r",
                    event.id,
                    deliveries,
                    delay,
                    exc,
                )
                await message.nak(delay=delay)
                return
        await message.ack()
        HANDLER_TIME.record(time.perf_counter() - started, consumer)
        await self._count(done, consumer)

    async def wait_handled(self, count: int) -> None:
        """Wait until ``count`` events were handled and acked (tests, operations)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.handled >= count)

    async def _poison(
        self, message: Msg, event_id: str | None, reason: str, deliveries: int
    ) -> None:
        log.error("dead letter on %s: %s", message.subject, reason)
        await self.inbox.dead_letter(
            event_id=event_id,
            subject=message.subject,
            body=message.data,
            reason=reason,
            deliveries=deliveries,
        )
        await message.term()
        self.dead_letters += 1
        DEAD_LETTERS.add(1, {"consumer": self.settings.durable})
