"""Playing a schedule against the running system, one clock step at a time.

The loop moves the shared clock to the next step, waits until the services have caught up
(timers fired, escalations and abandonment done, notifications planned), then opens the
requests that arrived in the step (REST or mail to the SMTP intake), lets free agents on
shift take the most urgent waiting tickets, and performs every action that fell due: replies,
requests for information, customers answering (or not), reclassifications, resolutions,
reopenings, confirmations, feature reviews. Actions happen at the step's instant, so the
step is the simulation's resolution (``--step``, 10 minutes by default).

The system is not a puppet: sla-monitor resolves silent tickets as abandoned, closes BTW's
after four unanswered attempts and escalates. When a planned action is refused because the
ticket moved on, the simulator reads the ticket and stops acting on it if it is over.

Everything outside is behind ``Port``: the live command gives HTTP, SMTP and the NATS clock;
the tests give the in-process services and a manual clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from simulator.scenario import DESKS, URGENCY, Agent, TicketPlan, subcategory_urgency

log = logging.getLogger("simulator")
DONE = "done"
DESKS_BY_POLICY = {desk.policy: desk for desk in DESKS}


class Port(Protocol):
    """What the driver needs of the running system."""

    def call(
        self, method: str, path: str, key: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]: ...

    def send_mail(self, sender: str, to: str, subject: str, text: str) -> None: ...

    def move_clock(self, instant: datetime) -> None: ...

    def settle(self) -> None: ...


@dataclass
class Customer:
    tenant: str
    contact: str
    name: str
    email: str
    key: str


@dataclass
class Ticket:
    plan: TicketPlan
    customer: Customer
    id: str | None = None
    agent: Agent | None = None
    action: str = "queued"
    due: datetime | None = None
    asked: bool = False
    reopened: bool = False
    attempts: int = 0

    @property
    def working(self) -> bool:
        return self.agent is not None and self.action in ("reply", "resolve", "feature_review")

    @property
    def urgency(self) -> int:
        plan = self.plan
        return (
            URGENCY.get(plan.priority, 2)
            if plan.priority
            else subcategory_urgency(plan.subcategory)
        )


@dataclass
class Stats:
    opened_api: int = 0
    opened_email: int = 0
    requests: int = 0
    refused: int = 0
    lost_mail: int = 0
    actions: dict[str, int] = field(default_factory=dict)


class Driver:
    def __init__(
        self,
        port: Port,
        customers: dict[str, list[list[Customer]]],
        agents: dict[str, list[Agent]],
        agent_keys: dict[str, str],
        staff_key: str,
        email_to: dict[str, str | None],
    ) -> None:
        self.port = port
        self.customers = customers
        self.agents = agents
        self.agent_keys = agent_keys
        self.staff_key = staff_key
        self.email_to = email_to
        self.tickets: list[Ticket] = []
        self.unmatched: dict[str, Ticket] = {}
        self.stats = Stats()

    # -- the loop ----------------------------------------------------------------------------

    def run(self, plans: list[TicketPlan], start: datetime, end: datetime, step: timedelta) -> None:
        pending = iter(plans)
        upcoming = next(pending, None)
        now = start
        while now <= end:
            self.port.move_clock(now)
            self.port.settle()
            while upcoming is not None and upcoming.at <= now:
                self.open(upcoming)
                upcoming = next(pending, None)
            if self.unmatched:
                self.match_mail(now - step)
            self.assign(now)
            for ticket in self.due(now):
                self.act(ticket, now)
            now += step

    def due(self, now: datetime) -> Iterator[Ticket]:
        ready = [t for t in self.tickets if t.due is not None and t.due <= now and t.id]
        for ticket in sorted(ready, key=lambda t: (t.due, t.plan.key)):
            if ticket.action in ("customer_reply", "reopen", "close") or (
                ticket.agent is not None and ticket.agent.on_shift(now)
            ):
                yield ticket

    # -- opening -----------------------------------------------------------------------------

    def open(self, plan: TicketPlan) -> None:
        customer = self.customers[plan.policy][plan.tenant][plan.contact]
        ticket = Ticket(plan, customer)
        self.tickets.append(ticket)
        title = f"Solicitud {plan.key}: {plan.ticket_type.replace('-', ' ')}"
        to = self.email_to.get(plan.policy)
        if plan.channel == "email" and to:
            self.port.send_mail(customer.email, to, title, f"Buen día, {title}.\r\nGracias.")
            self.unmatched[title] = ticket
            self.stats.opened_email += 1
            return
        body: dict[str, Any] = {
            "policy": plan.policy,
            "title": title,
            "description": f"Detalle de {plan.key}",
            "ticket_type": plan.ticket_type,
            "channel": "api",
        }
        for name, value in (
            ("priority", plan.priority),
            ("subcategory", plan.subcategory),
            ("modality", plan.modality),
        ):
            if value:
                body[name] = value
        desk = DESKS_BY_POLICY[plan.policy]
        body.update(desk.extra)
        if desk.intake:
            body["intake"] = dict(desk.intake)
        status, answer = self.call("POST", "/v1/tickets", customer.key, body)
        if status == 201:
            ticket.id = answer["id"]
            self.stats.opened_api += 1
        else:
            ticket.action = DONE
            log.warning("open %s refused: %s %s", plan.key, status, answer)

    def match_mail(self, since: datetime) -> None:
        """Find the tickets the SMTP intake made of this step's mail (by their subject)."""
        cursor: str | None = None
        while self.unmatched:
            query = f"?updated_since={since.isoformat().replace('+00:00', 'Z')}&limit=200"
            status, page = self.call(
                "GET",
                "/v1/tickets" + query + (f"&cursor={cursor}" if cursor else ""),
                self.staff_key,
            )
            if status != 200:
                return
            for item in page["items"]:
                ticket = self.unmatched.pop(item["title"], None)
                if ticket is not None:
                    ticket.id = item["id"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        for title, ticket in list(self.unmatched.items()):
            if ticket.plan.at < since - timedelta(hours=1):
                log.warning("no ticket was made of the mail %r", title)
                ticket.action = DONE
                self.stats.lost_mail += 1
                del self.unmatched[title]

    # -- agents ------------------------------------------------------------------------------

    def assign(self, now: datetime) -> None:
        queued = [t for t in self.tickets if t.action == "queued" and t.id]
        queued.sort(key=lambda t: (t.urgency, t.plan.at))
        load: dict[str, int] = {}
        for t in self.tickets:
            if t.working and t.agent is not None:
                load[t.agent.id] = load.get(t.agent.id, 0) + 1
        for ticket in queued:
            free = [
                a
                for a in self.agents[ticket.plan.policy]
                if a.on_shift(now) and load.get(a.id, 0) < a.capacity
            ]
            if not free:
                continue
            agent = min(free, key=lambda a: (load.get(a.id, 0), a.id))
            if not self.command(
                ticket, "assign", agent.id, {"agent_id": agent.id, "agent_name": agent.name}
            ):
                continue
            ticket.agent = agent
            load[agent.id] = load.get(agent.id, 0) + 1
            self.command(ticket, "start", agent.id, {})
            self.plan_next(ticket, "reply", now + ticket.plan.first_reply)

    def act(self, ticket: Ticket, now: datetime) -> None:
        plan, agent = ticket.plan, ticket.agent
        assert agent is not None
        action = ticket.action
        self.stats.actions[action] = self.stats.actions.get(action, 0) + 1
        if action == "reply":
            if not self.command(ticket, "replies", agent.id, {"body": "Estamos revisando."}):
                return
            if plan.new_priority:
                self.command(
                    ticket,
                    "priority",
                    agent.id,
                    {"priority": plan.new_priority, "reason": "Impacto reevaluado"},
                )
            if plan.feature_review_after is not None:
                self.plan_next(ticket, "feature_review", now + plan.feature_review_after)
            elif plan.ask_customer:
                self.ask(ticket, now)
            else:
                self.plan_next(ticket, "resolve", now + plan.work)
        elif action == "contact_attempt":
            ticket.attempts += 1
            if self.command(ticket, "contact-attempts", agent.id, {"channel": "phone"}):
                self.plan_next(ticket, "contact_attempt", now + timedelta(days=1))
        elif action == "customer_reply":
            if self.command(ticket, "replies", "customer", {"body": "Adjunto lo solicitado."}):
                self.plan_next(ticket, "resolve", now + plan.work)
        elif action == "feature_review":
            if self.command(
                ticket, "feature-review", agent.id, {"viable": True, "target_release": "7.0"}
            ):
                self.plan_next(ticket, "resolve", now + timedelta(hours=1))
        elif action == "resolve":
            if self.command(
                ticket, "resolve", agent.id, {"resolution": "solution", "summary": "Solucionado."}
            ):
                self.after_resolution(ticket, now)
        elif action == "reopen":
            ticket.reopened = True
            if self.command(ticket, "reopen", "customer", {"reason": "Volvió a fallar"}):
                self.plan_next(ticket, "resolve", now + plan.work / 2)
        elif action == "close":
            self.command(ticket, "close", "customer", {"closure": "confirmed"})
            self.plan_next(ticket, DONE, None)

    def ask(self, ticket: Ticket, now: datetime) -> None:
        plan = ticket.plan
        if not self.command(
            ticket,
            "await-customer",
            ticket.agent.id if ticket.agent else "",
            {"request": "Envíenos la evidencia del error, por favor."},
        ):
            return
        if plan.customer_delay is not None:
            self.plan_next(ticket, "customer_reply", now + plan.customer_delay)
        elif plan.policy == "btw":  # 004: the fourth unanswered attempt closes it
            self.plan_next(ticket, "contact_attempt", now + timedelta(days=1))
        elif plan.policy == "bitam":  # 000: seven silent days and it is abandoned
            self.plan_next(ticket, DONE, None)
        else:  # no abandonment rule: the customer comes back after a long silence
            self.plan_next(ticket, "customer_reply", now + timedelta(days=3))

    def after_resolution(self, ticket: Ticket, now: datetime) -> None:
        plan = ticket.plan
        if plan.reopen_after is not None and not ticket.reopened:
            self.plan_next(ticket, "reopen", now + plan.reopen_after)
        elif plan.confirm_after is not None:
            self.plan_next(ticket, "close", now + plan.confirm_after)
        else:
            self.plan_next(ticket, DONE, None)  # the policy's expiry closes it

    @staticmethod
    def plan_next(ticket: Ticket, action: str, due: datetime | None) -> None:
        ticket.action, ticket.due = action, due

    # -- talking to ticket-api ---------------------------------------------------------------

    def command(self, ticket: Ticket, path: str, who: str, body: dict[str, Any]) -> bool:
        """One ticket command; False (and the ticket dropped if it is over) when refused."""
        key = ticket.customer.key if who == "customer" else self.agent_keys[who]
        status, answer = self.call("POST", f"/v1/tickets/{ticket.id}/{path}", key, body)
        if status < 300:
            return True
        self.stats.refused += 1
        _, current = self.call("GET", f"/v1/tickets/{ticket.id}", self.staff_key)
        state = current.get("state") if isinstance(current, dict) else None
        log.info("%s %s refused (%s, ticket %s): %s", ticket.plan.key, path, status, state, answer)
        if state in ("resolved", "closed") or path in ("assign", "start", "resolve"):
            self.plan_next(ticket, DONE, None)
        elif ticket.agent is not None:
            self.plan_next(ticket, "resolve", ticket.due)  # try to finish it next step
        return False

    def call(
        self, method: str, path: str, key: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        self.stats.requests += 1
        return self.port.call(method, path, key, body)
