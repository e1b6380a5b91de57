"""Driving the running system through SLA stories on the shared manual clock, and reading back
what each service did: sla-monitor's read API, the ``SLA`` stream, and the mail that reached
the SMTP receiver.

``Desk.settle()`` is the one wait: it returns once every ticket event is projected by
sla-monitor and folded by the notifier, the timer loop made a full pass after that (firing what
the clock made due, publishing what the projection queued), every SLA event is planned by the
notifier, and every planned delivery is sent — repeated until nothing moves any more (a timer's
command makes ticket events of its own). Every wait has a deadline; none sleeps.

``Desk.held_timers()`` keeps the timer loop from running at all (no firing, no publishing), so
a test can move the clock past a deadline and act before the loop notices it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import partial
from typing import Any

from e2e_system import System

from contracts.events import SLA_STREAM, from_wire, payload_of

AGENT = {"Authorization": "Bearer dev-agent"}
CUSTOMER = {"Authorization": "Bearer dev-customer"}
SUPERVISOR = {"Authorization": "Bearer dev-supervisor"}
WHO = {"agent": AGENT, "customer": CUSTOMER, "supervisor": SUPERVISOR}
WAIT = 30.0


@dataclass(frozen=True)
class SlaEvent:
    """One event of the ``SLA`` stream, as the checks compare it."""

    name: str
    ticket_id: str
    metric: str | None
    cycle: int | None
    deadline: datetime | None
    """``deadline`` of the payload; ``happens_at`` for an abandonment warning."""
    time: datetime
    id: str
    data: dict[str, Any]

    @property
    def short(self) -> tuple[str, str | None, int | None, datetime | None]:
        return (self.name, self.metric, self.cycle, self.deadline)


class TimerPasses:
    """Wraps the timer loop's two steps to count full passes, and to hold the loop."""

    def __init__(self, timers: Any) -> None:
        self.timers = timers
        self.started = 0
        self.done = 0
        self.held = False
        self.changed = threading.Condition()
        fire, publish = timers.fire_due, timers.publish_outbox

        async def fire_due() -> int:
            if self.held:
                return 0
            with self.changed:
                self.started += 1
            fired: int = await fire()
            return fired

        async def publish_outbox() -> int:
            if self.held:
                return 0
            published: int = await publish()
            if published < timers.batch:
                with self.changed:
                    self.done = self.started
                    self.changed.notify_all()
            return published

        timers.fire_due = fire_due
        timers.publish_outbox = publish_outbox

    def wait_full_pass(self) -> None:
        """Until a pass that started after this call has fired and published everything."""
        with self.changed:
            after = self.started
            if not self.changed.wait_for(lambda: self.done > after, WAIT):
                raise AssertionError("the SLA timer loop made no full pass in time")


class Desk:
    """A running ``System`` (with its notifier) seen as the tests need it."""

    def __init__(self, system: System) -> None:
        assert system.notifier is not None and system.mail is not None
        self.system = system
        self.clock = system.clock
        self.mail = system.mail
        sla = system.sla_monitor.app.state.background  # type: ignore[attr-defined]
        notifier = system.notifier.app.state.background  # type: ignore[attr-defined]
        self.projection = sla.consumer
        self.nats = sla.nc
        self.passes = TimerPasses(sla.timers)
        self.notifier_tickets, self.notifier_sla = notifier.consumers
        self.dispatcher = notifier.dispatcher
        self.tickets: dict[str, str] = {}
        """Ticket id → case number, for every ticket opened here."""
        self._events: list[SlaEvent] = []
        self._seen_events = 0
        self._seen_mail = 0
        self._seen_history: dict[str, int] = {}

    # -- acting -----------------------------------------------------------------------------

    def open(self, body: dict[str, Any], who: str = "customer") -> tuple[str, str]:
        """Open a ticket; its id and case number."""
        answer = self.system.ticket_api.post("/v1/tickets", headers=WHO[who], json=body)
        assert answer.status_code == 201, answer.text
        ticket, case = answer.json()["id"], answer.json()["case_number"]
        self.tickets[ticket] = case
        return ticket, case

    def act(self, ticket: str, command: str, body: dict[str, Any], who: str = "agent") -> None:
        answer = self.system.ticket_api.post(
            f"/v1/tickets/{ticket}/{command}", headers=WHO[who], json=body
        )
        assert answer.status_code == 200, f"{command}: {answer.status_code} {answer.text}"

    def at(self, instant: datetime) -> None:
        """Move the shared clock to ``instant`` and let every service catch up."""
        assert instant >= self.clock.now(), f"the clock does not go back to {instant}"
        self.clock.set(instant)
        self.settle()

    @contextmanager
    def held_timers(self) -> Iterator[None]:
        """The timer loop does nothing inside: no timer fires, nothing is published."""
        self.passes.held = True
        try:
            yield
        finally:
            self.passes.held = False

    # -- waiting ----------------------------------------------------------------------------

    def _call(self, portal_of: Any, make: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``make(*args)`` awaited on the app's event loop, with a deadline."""

        async def bounded() -> Any:
            return await asyncio.wait_for(make(*args), WAIT)

        return portal_of.portal.call(bounded)

    def ticket_events(self) -> int:
        """How many events the tickets opened here have in ticket-api's store."""
        total = 0
        for ticket in self.tickets:
            answer = self.system.ticket_api.get(f"/v1/tickets/{ticket}", headers=AGENT)
            assert answer.status_code == 200, answer.text
            total += int(answer.json()["version"])
        return total

    def projected(self, events: int) -> None:
        """sla-monitor has projected ``events`` ticket events."""
        self._call(self.system.sla_monitor, self.projection.wait_handled, events)

    def sla_stream_size(self) -> int:
        async def size() -> int:
            info = await self.nats.jetstream().stream_info(SLA_STREAM)
            return int(info.state.messages)

        return int(self._call(self.system.sla_monitor, size))

    def deliveries(self, **filters: str) -> list[dict[str, Any]]:
        assert self.system.notifier is not None
        answer = self.system.notifier.get(
            "/v1/deliveries", params={"limit": "1000", **filters}, headers=SUPERVISOR
        )
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def settle(self) -> None:
        """Return once nothing is left moving between the services (module docstring)."""
        assert not self.passes.held, "settle() with the timer loop held would never end"
        assert self.system.notifier is not None
        seen: tuple[int, int, int] | None = None
        for _ in range(50):
            events = self.ticket_events()
            self.projected(events)
            self._call(self.system.notifier, self.notifier_tickets.wait_handled, events)
            self.passes.wait_full_pass()
            published = self.sla_stream_size()
            self._call(self.system.notifier, self.notifier_sla.wait_handled, published)
            planned = len(self.deliveries())
            self._call(self.system.notifier, partial(self.dispatcher.wait_settled, sent=planned))
            if seen == (events, published, planned):
                return
            seen = (events, published, planned)
        raise AssertionError("the system never settled")

    # -- reading ----------------------------------------------------------------------------

    def sla_events(self, ticket: str | None = None) -> list[SlaEvent]:
        """The ``SLA`` stream in order (of one ticket, if given)."""

        async def read(start: int) -> list[bytes]:
            js = self.nats.jetstream()
            last = (await js.stream_info(SLA_STREAM)).state.last_seq
            return [
                (await js.get_msg(SLA_STREAM, seq)).data or b"" for seq in range(start, last + 1)
            ]

        for body in self._call(self.system.sla_monitor, read, len(self._events) + 1):
            event = from_wire(body)
            payload = payload_of(event)
            data = payload.model_dump(mode="json")
            deadline = getattr(payload, "deadline", None) or getattr(payload, "happens_at", None)
            metric = getattr(payload, "metric", None)
            self._events.append(
                SlaEvent(
                    name=event.event_name,
                    ticket_id=event.subject,
                    metric=None if metric is None else str(metric.value),
                    cycle=getattr(payload, "cycle", None),
                    deadline=None if deadline is None else deadline.astimezone(UTC),
                    time=event.time.astimezone(UTC),
                    id=event.id,
                    data=data,
                )
            )
        return [e for e in self._events if ticket is None or e.ticket_id == ticket]

    def new_sla_events(self) -> list[SlaEvent]:
        """The SLA events published since the last call."""
        events = self.sla_events()
        fresh, self._seen_events = events[self._seen_events :], len(events)
        return fresh

    def new_mail(self) -> list[EmailMessage]:
        """The mail received since the last call (``settle`` first: it is all in then)."""
        messages = list(self.mail.messages)
        fresh, self._seen_mail = messages[self._seen_mail :], len(messages)
        return fresh

    def new_history(self, ticket: str) -> list[dict[str, Any]]:
        """The ticket's events on ticket-api since the last call."""
        history = self.system.history(ticket)
        start = self._seen_history.get(ticket, 0)
        self._seen_history[ticket] = len(history)
        return history[start:]

    def clocks(self, case: str) -> dict[str, dict[str, Any]]:
        """sla-monitor's live view of the ticket's clocks, by metric (asked by case number)."""
        answer = self.system.sla_monitor.get(f"/v1/sla/tickets/{case}", headers=AGENT)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["case_number"] == case
        return {c["metric"]: c for c in body["clocks"]}


def address(message: EmailMessage) -> str:
    """The one recipient's address (``Lucía <lucia@x>`` → ``lucia@x``)."""
    (to,) = message["To"].addresses
    return str(to.addr_spec)


def subject(message: EmailMessage) -> str:
    """The subject as a reader sees it: a long ASCII subject is folded onto its own line by
    Python's mail generator, and the parser keeps the fold's leading space."""
    return " ".join(str(message["Subject"]).split())


def instant(value: dict[str, str] | None) -> datetime | None:
    """An instant of sla-monitor's API (``{"utc", "local"}``) as an aware datetime."""
    if value is None:
        return None
    return datetime.fromisoformat(value["utc"].replace("Z", "+00:00"))
