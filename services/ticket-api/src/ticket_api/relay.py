"""The outbox relay: the event store's notification log, published to NATS JetStream.

long: reading a batch, publishing it within a deadline, parking what cannot go and moving the
position are one transaction's story; split apart, the exactly-once argument would have to be
pieced together from several files (the parked events' own store is in ``parked_events.py``).

The log is the outbox — an event is committed once, with the ticket, and the relay publishes it
afterwards, so a write never waits on NATS and NATS being down never loses an event:

- it reads notifications after its stored position, publishes each ticket event as a CloudEvent
  to ``tickets.<tenant>.<ticket>.<event>`` with ``Nats-Msg-Id = <ticket id>:<version>`` and the
  trace context saved with the event, pipelined with a bounded number of acks outstanding;
- the position advances only after JetStream acknowledged the whole batch; a relay that dies
  mid-batch publishes the batch again and JetStream's duplicate window drops the repeats;
- one connection publishes in log order, so each ticket's events keep their order;
- a lease (``lease.py``) lets exactly one replica publish; the others wait to take over;
- failures are retried with exponential backoff and jitter (``tenacity``) until NATS is back;
- no wait is without a deadline: a batch not acknowledged within ``ack_timeout`` (a connection
  lost with acks in flight never answers them) fails, and the batch is published again on a new
  connection from the last recorded position;
- an event that cannot be published (the contract refuses it, NATS refuses it for good) is
  parked (``parked_events.py``) in the transaction that moves the position past it: one bad
  event never holds back the others;
- progress is watched: with a backlog and no progress for ``stall_after`` seconds the relay
  reports ``stalled`` (``/readyz``, the ``supportdesk.relay.seconds_since_progress`` metric).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import nats
import nats.errors
import nats.js.errors
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from contracts.events import SLA_STREAM, TICKETS_STREAM, subject
from servicekit.messaging import servers
from servicekit.messaging.streams import StreamSettings, ensure_stream
from ticket_api.application import TicketDesk
from ticket_api.domain.ticket import Ticket
from ticket_api.lease import Lease
from ticket_api.log_position import Dialect, LogPosition
from ticket_api.parked_events import ParkedEvents
from ticket_api.sealing import sealed_data
from ticket_api.wire import Unpublishable, event_name, wire_event

log = logging.getLogger(__name__)
tracer = trace.get_tracer("ticket_api.relay")
meter = metrics.get_meter("ticket_api.relay")
_relays: weakref.WeakSet[OutboxRelay] = weakref.WeakSet()


def _observe_lag(_: CallbackOptions) -> list[Observation]:
    return [Observation(lag) for relay in list(_relays) if (lag := relay.lag()) is not None]


def _observe_stall(_: CallbackOptions) -> list[Observation]:
    return [Observation(relay.seconds_since_progress()) for relay in list(_relays)]


def _observe_parked(_: CallbackOptions) -> list[Observation]:
    return [Observation(n) for relay in list(_relays) if (n := relay.parked_count()) is not None]


meter.create_observable_gauge(
    "supportdesk.relay.lag",
    callbacks=[_observe_lag],
    description="Events committed to the event store but not yet published to NATS",
)
meter.create_observable_gauge(
    "supportdesk.relay.seconds_since_progress",
    callbacks=[_observe_stall],
    description="Seconds since the relay last moved forward while events wait (0: caught up)",
)
meter.create_observable_gauge(
    "supportdesk.relay.parked",
    callbacks=[_observe_parked],
    description="Events the relay parked as unpublishable and nobody has republished yet",
)
parked_counter = meter.create_counter(
    "supportdesk.relay.parked_events",
    description="Events the relay parked because they could not be published",
)
POSITION_NAME = "outbox_relay"
Message = tuple[str, bytes, None, None, dict[str, str]]
"""``publish_async`` arguments: subject, body, wait_stall, stream, headers."""
PERMANENT_REFUSALS = (nats.js.errors.BadRequestError,)
"""JetStream answers that no retry changes (a message over the stream's size limit...)."""


@dataclass(frozen=True)
class RelaySettings:
    nats_url: str = "nats://127.0.0.1:4222"
    batch: int = 1000
    max_in_flight: int = 512
    """Publishes awaiting a JetStream ack at once (the pipelining window)."""
    poll_interval: float = 0.5
    """Seconds between looks at the log when nobody wakes the relay (other replicas' writes)."""
    lease_retry: float = 2.0
    """Seconds between attempts to take the lease while another replica holds it."""
    ack_timeout: float = 10.0
    """Seconds a batch may wait for JetStream's acknowledgments before it is published again."""
    stall_after: float = 30.0
    """Seconds with a backlog and no progress before the relay reports ``stalled``."""
    streams: StreamSettings = field(default_factory=StreamSettings)


class NotAcknowledged(Exception):
    """JetStream did not acknowledge every message of a batch."""


class JetStream(JetStreamContext):
    """nats-py's JetStream context, with a refused asynchronous publish answered.

    In nats-py 2.16 the handler of ``publish_async`` replies *raises* a JetStream error
    (``APIError.from_error`` raises rather than returns) instead of setting it on the publish's
    future: a message JetStream refuses (over the stream's size limit, say) never resolves,
    and whoever waits for it waits forever. Here the error reaches the future, so the relay
    sees the refusal and parks that message.
    """

    async def _handle_async_reply(self, msg: Msg) -> None:
        try:
            await super()._handle_async_reply(msg)
        except nats.js.errors.APIError as refused:
            token = msg.subject[len(self._nc._inbox_prefix) + 22 + 2 :]
            future = self._publish_async_futures.get(token)
            if future is not None and not future.done():
                future.set_exception(refused)


class OutboxRelay:
    """Publishes the notification log to JetStream, from a durable position."""

    def __init__(self, desk: TicketDesk, lease: Lease, settings: RelaySettings) -> None:
        self.desk = desk
        self.lease = lease
        self.settings = settings
        self.position = LogPosition(Dialect(desk.recorder.datastore), POSITION_NAME)  # type: ignore[attr-defined]
        self._ticket_topics = {
            get_topic(cls)
            for cls in vars(Ticket).values()
            if isinstance(cls, type) and issubclass(cls, Ticket.Event)
        }
        self.parked = ParkedEvents(Dialect(desk.recorder.datastore))  # type: ignore[attr-defined]
        self._owners: OrderedDict[UUID, tuple[str, str]] = OrderedDict()  # ticket → tenant, policy
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._progress = asyncio.Condition()
        self.published = 0
        self.state = "starting"
        """``publishing``, ``standby`` (another replica holds the lease), ``retrying``."""
        _relays.add(self)
        self.reached = 0
        """The last notification id acknowledged by JetStream and recorded."""
        self._progress_at = time.monotonic()
        """When the relay last moved its position or found nothing to publish."""

    def lag(self) -> int | None:
        """Events committed but not yet published (None when the store cannot be read)."""
        try:
            last = self.desk.recorder.max_notification_id() or 0
        except Exception:  # the store is down: no reading rather than a wrong one
            return None
        return max(0, last - self.reached)

    def seconds_since_progress(self) -> float:
        """How long events have waited without the relay moving (0 while it keeps up)."""
        lag = self.lag()
        if not lag:
            return 0.0
        return time.monotonic() - self._progress_at

    def status(self) -> str:
        """``state``, or ``stalled`` when events wait and nothing moved for ``stall_after``:
        a loop stuck on a wait cannot say so itself, so the verdict is made by the reader."""
        if self.state != "standby" and self.seconds_since_progress() > self.settings.stall_after:
            return "stalled"
        return self.state

    def parked_count(self) -> int | None:
        try:
            return self.parked.count_waiting()
        except Exception:  # the store is down: no reading rather than a wrong one
            return None

    # -- control ---------------------------------------------------------------------------

    def wake(self) -> None:
        """Something was written: look at the log now (thread-safe; from request threads)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Hold the lease and publish until stopped; survives NATS and database outages."""
        self._loop = asyncio.get_running_loop()
        self.desk.after_save.append(self.wake)
        try:
            while not self._stopping.is_set():
                if not await asyncio.to_thread(self._try_lease):
                    self.state = "standby"  # another replica publishes
                    await self._pause(self.settings.lease_retry)
                    continue
                log.info(
                    "outbox relay: holding the lease; publishing to %s", self.settings.nats_url
                )
                async for attempt in AsyncRetrying(
                    wait=wait_exponential_jitter(multiplier=0.05, max=5.0, jitter=0.25),
                    retry=retry_if_exception_type(Exception),
                    before_sleep=self._retrying,
                ):
                    with attempt:
                        await self._publish_while_leased()
        finally:
            self.desk.after_save.remove(self.wake)
            await asyncio.to_thread(self.lease.release)

    def _retrying(self, state: Any) -> None:
        self.state = "retrying"
        log.warning("outbox relay: %s; retrying", state.outcome and state.outcome.exception())

    def _try_lease(self) -> bool:
        try:
            return self.lease.try_acquire()
        except Exception as exc:  # the database may be down: try again later
            log.warning("outbox relay: cannot take the lease: %s", exc)
            return False

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _publish_while_leased(self) -> None:
        nc = await nats.connect(
            servers=servers(self.settings.nats_url),
            name="ticket-api outbox relay",
            max_reconnect_attempts=0,
            allow_reconnect=False,
            connect_timeout=2,
        )
        try:
            self.state = "publishing"
            js = JetStream(nc, publish_async_max_pending=self.settings.max_in_flight)
            for stream in (TICKETS_STREAM, SLA_STREAM):  # idempotent: create or update
                await ensure_stream(js, stream, self.settings.streams)
            while not self._stopping.is_set():
                if not await asyncio.to_thread(self.lease.still_held):
                    log.warning("outbox relay: lost the lease")
                    return
                await self.republish_requested(js)
                if await self.publish_batch(js) == 0:
                    await self._pause(self.settings.poll_interval)
        finally:
            with contextlib.suppress(Exception):  # a dead connection may not close cleanly
                await asyncio.wait_for(nc.close(), timeout=self.settings.ack_timeout)

    # -- publishing ------------------------------------------------------------------------

    async def publish_batch(self, js: JetStreamContext) -> int:
        """Publish the next batch of the log; returns how many notifications it covered."""
        position = await asyncio.to_thread(self.position.get)
        last, covered, batch_items, parked = await asyncio.to_thread(self._read_batch, position)
        if last is None:
            self._progress_at = time.monotonic()  # caught up: nothing is waiting on us
            return 0
        limit = js._nc.max_payload  # what this server accepts; a larger message never will
        parked += [
            self._parking(notification, f"{len(message[1])} bytes > {limit}")
            for notification, message in batch_items
            if len(message[1]) > limit
        ]
        batch_items = [(n, m) for n, m in batch_items if len(m[1]) <= limit]
        messages = [message for _, message in batch_items]
        with tracer.start_as_current_span("outbox relay batch") as batch:
            batch.set_attribute("messaging.system", "nats")
            batch.set_attribute("messaging.batch.message_count", len(messages))
            # Each event's publish continues the trace of the request that wrote it (its stored
            # traceparent), and consumers continue the publish: one trace per ticket action.
            # (An event written outside any trace is published as it is: no span to continue.)
            spans = [
                self._publish_span(message, batch) if "traceparent" in message[4] else None
                for message in messages
            ]
            try:
                results = await self._publish(js, messages, spans)
            finally:
                for span in spans:
                    if span is not None and span.is_recording():
                        span.set_status(Status(StatusCode.ERROR, "not acknowledged"))
                        span.end()
            refused = 0
            for (notification, _), result in zip(batch_items, results, strict=True):
                if isinstance(result, PERMANENT_REFUSALS):
                    refused += 1
                    parked.append(self._parking(notification, f"JetStream refused it: {result}"))
            failed = [
                r
                for r in results
                if isinstance(r, BaseException) and not isinstance(r, PERMANENT_REFUSALS)
            ]
            if failed:
                raise NotAcknowledged(
                    f"{len(failed)} of {len(results)} not acknowledged: {failed[0]!r}"
                )
        moved = await asyncio.to_thread(self._advance, position, last, parked)
        if not moved:
            raise RuntimeError("the relay position moved under us: is another relay running?")
        self.published += len(results) - refused
        if parked:
            parked_counter.add(len(parked))
            for notification_id, ticket_id, version, _, reason in parked:
                log.error(
                    "outbox relay: parked notification %d (ticket %s version %d): %s",
                    notification_id,
                    ticket_id,
                    version,
                    reason,
                )
        async with self._progress:
            self.reached = last
            self._progress_at = time.monotonic()
            self._progress.notify_all()
        return covered

    async def _publish(
        self, js: JetStreamContext, messages: list[Message], spans: list[Span | None]
    ) -> list[Any]:
        """Publish pipelined and gather each ack (or its error), all within ``ack_timeout``:
        acks in flight on a connection that dies are never answered, so an open wait would
        stall the relay for good."""
        try:
            async with asyncio.timeout(self.settings.ack_timeout):
                acks = [
                    await js.publish_async(*message[:4], self._headers(message[4], span))
                    for message, span in zip(messages, spans, strict=True)
                ]
                await js.publish_async_completed()
                results = await asyncio.gather(*acks, return_exceptions=True)
        except TimeoutError:
            raise NotAcknowledged(
                f"no acknowledgment within {self.settings.ack_timeout} s"
            ) from None
        for span, result in zip(spans, results, strict=True):
            if span is None:
                continue
            if isinstance(result, BaseException):
                span.set_status(Status(StatusCode.ERROR, type(result).__name__))
            span.end()
        return list(results)

    def _advance(
        self, position: int, last: int, parked: list[tuple[int, str, int, str, str]]
    ) -> bool:
        """Move past the batch and park what could not be published, in one transaction."""
        with self.position.dialect.datastore.transaction(commit=True) as cursor:
            if not self.position.advance_in(cursor, position, last):
                return False
            self.parked.park_in(cursor, parked)
            return True

    @staticmethod
    def _parking(notification: Notification, reason: str) -> tuple[int, str, int, str, str]:
        return (
            notification.id,
            str(notification.originator_id),
            notification.originator_version,
            notification.topic,
            reason,
        )

    async def republish_requested(self, js: JetStreamContext) -> None:
        """Publish the parked events an operator asked for again (after fixing the cause);
        one still unpublishable stays parked with its new reason."""
        requested = await asyncio.to_thread(self.parked.requested)
        for parked in requested:
            notifications = await asyncio.to_thread(
                self.desk.recorder.select_notifications, parked.notification_id, 1
            )
            if not notifications or notifications[0].id != parked.notification_id:
                continue
            notification = notifications[0]
            try:
                message = await asyncio.to_thread(self._message, notification)
                (result,) = await self._publish(js, [message], [None])
                if isinstance(result, BaseException):
                    raise result
            except (Unpublishable, *PERMANENT_REFUSALS) as still:
                row = self._parking(notification, f"still unpublishable: {still}")
                await asyncio.to_thread(self.parked.park, [row])
                continue
            await asyncio.to_thread(self.parked.republished, parked.notification_id)
            log.warning("outbox relay: republished parked notification %d", parked.notification_id)

    @staticmethod
    def _publish_span(message: Message, batch: Span) -> Span:
        subject, headers = message[0], message[4]
        return tracer.start_span(
            f"send ticket.{subject.rsplit('.', 1)[-1]}",
            context=propagate.extract(headers),
            kind=SpanKind.PRODUCER,
            links=[Link(batch.get_span_context())],
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "send",
                "messaging.destination.name": subject,
                "messaging.message.id": headers.get("Nats-Msg-Id", ""),
            },
        )

    @staticmethod
    def _headers(headers: dict[str, str], span: Span | None) -> dict[str, str]:
        if span is None:
            return headers
        trace_keys = ("traceparent", "tracestate")
        carrier = {k: v for k, v in headers.items() if k not in trace_keys}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        return carrier

    def _read_batch(
        self, position: int
    ) -> tuple[
        int | None, int, list[tuple[Notification, Message]], list[tuple[int, str, int, str, str]]
    ]:
        """The notifications after ``position`` as publish arguments, read and built in one go
        off the event loop: one thread hop a batch, not one an event (a 3x difference).
        Those that cannot become a message come back apart, to be parked."""
        notifications: Sequence[Notification] = self.desk.recorder.select_notifications(
            position + 1, self.settings.batch
        )
        if not notifications:
            return None, 0, [], []
        items: list[tuple[Notification, Message]] = []
        parked: list[tuple[int, str, int, str, str]] = []
        for notification in notifications:
            if notification.topic not in self._ticket_topics:
                continue  # case-number sequences, idempotency records, the directory stay inside
            try:
                items.append((notification, self._message(notification)))
            except Exception as exc:  # whatever stops an event from being sent parks it
                parked.append(self._parking(notification, f"{type(exc).__name__}: {exc}"))
        return notifications[-1].id, len(notifications), items, parked

    async def caught_up(self, notification_id: int) -> None:
        """Wait until everything up to ``notification_id`` is in JetStream (tests, shutdown)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.reached >= notification_id)

    def _message(self, notification: Notification) -> Message:
        """``publish_async`` arguments for one stored ticket event."""
        event, sealed = self.desk.sealing.open(notification, decrypt=False)
        assert isinstance(event, Ticket.Event)
        ticket_id = UUID(str(event.originator_id))
        tenant, policy = self._owner(ticket_id, event)
        # The wire carries the stored ciphertext (ADR 23); the relay never opens it: the
        # personal fields were checked when the event was saved.
        carry = sealed_data(sealed) if sealed is not None else None
        cloud_event, body = wire_event(event, tenant=tenant, policy=policy, carry=carry)
        headers = {"Nats-Msg-Id": cloud_event.id, **event.trace}
        return (
            subject(event_name(event), tenant=tenant, ticket_id=ticket_id),
            body,
            None,
            None,
            headers,
        )

    def _owner(self, ticket_id: UUID, event: Any) -> tuple[str, str]:
        """Tenant and policy of a ticket (only its Opened event carries them)."""
        if isinstance(event, Ticket.Opened):
            owner = (event.tenant, event.policy)
        elif (cached := self._owners.get(ticket_id)) is not None:
            owner = cached
        else:
            opened = self.desk.ticket(ticket_id, version=1)
            owner = (opened.tenant, opened.policy)
        self._owners[ticket_id] = owner
        self._owners.move_to_end(ticket_id)
        while len(self._owners) > 100_000:
            self._owners.popitem(last=False)
        return owner
