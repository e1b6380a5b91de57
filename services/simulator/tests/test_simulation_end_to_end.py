"""A small simulation through the real services, and its report checked against the SLA stream.

ticket-api, sla-monitor and the notifier run in this process on real NATS and PostgreSQL
(``tests/e2e/e2e_system.py``) on one manual clock; the simulator drives them exactly as it
drives ``make run`` (REST, and mail through the email intake), moving the clock an hour at a
time and settling after each move (``Desk.settle``: no sleeps). About forty tickets over three
simulated days. The report's compliance is then recomputed independently from the ``SLA``
events as the acceptance helper reads them, and must agree.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from contracts.events import TICKETS_STREAM

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "e2e"))

from e2e_system import POLICIES, System, running_system
from nats_server import NatsServer
from sla_acceptance import Desk

from simulator.driver import Driver
from simulator.figures import figures
from simulator.report import write
from simulator.report_cli import office_zones, stream_facts
from simulator.scenario import DESKS, schedule
from simulator.setup import register

START = date(2026, 11, 24)  # a Tuesday; the system starts on Monday 23rd
DAYS = 3


class InProcessPort:
    """The in-process system as the driver's port."""

    def __init__(self, system: System, desk: Desk) -> None:
        self.system, self.desk = system, desk
        self.driver: Driver | None = None
        # Desk.settle counts ticket events by reading every ticket, which a run of many
        # tickets per step would pay for in rate-limited requests: count the TICKETS stream.
        desk.ticket_events = self.tickets_published  # type: ignore[method-assign]

    def tickets_published(self) -> int:
        async def size() -> int:
            info = await self.desk.nats.jetstream().stream_info(TICKETS_STREAM)
            return int(info.state.messages)

        return int(self.desk._call(self.system.sla_monitor, size))

    def call(
        self, method: str, path: str, key: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        answer = self.system.ticket_api.request(
            method, path, headers={"Authorization": f"Bearer {key}"}, json=body
        )
        return answer.status_code, answer.json()

    def send_mail(self, sender: str, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, to, subject
        message.set_content(text)
        answer = self.system.ticket_api.post(
            "/v1/intake/email",
            content=message.as_bytes(),
            headers={"Authorization": "Bearer dev-service", "Content-Type": "message/rfc822"},
        )
        assert answer.status_code < 300, answer.text

    def move_clock(self, instant: datetime) -> None:
        self.desk.clock.set(instant)

    def settle(self) -> None:
        self.desk.settle()


@pytest.fixture
def system(
    nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path
) -> Iterator[System]:
    with running_system(nats_server, postgres_env, tmp_path, notifier=True) as system:
        yield system


def test_a_simulated_run_reports_what_the_sla_stream_says(
    system: System, nats_server: NatsServer, tmp_path: Path
) -> None:
    desk = Desk(system)
    port = InProcessPort(system, desk)
    plans = schedule(5, START, DAYS, 0.06)
    assert 25 <= len(plans) <= 70
    customers, agents, keys = register(port, "dev-admin", 0.06, "test")
    driver = port.driver = Driver(
        port, customers, agents, keys, "dev-supervisor", {d.policy: d.email_to for d in DESKS}
    )
    start = datetime(2026, 11, 24, tzinfo=UTC)
    end = start + timedelta(days=DAYS)
    began = time.perf_counter()
    driver.run(plans, start, end, timedelta(hours=1))
    port.settle()
    took = time.perf_counter() - began
    s = driver.stats
    print(f"{len(plans)} tickets, {s.requests} requests in {took:.1f} s; {s.actions}")
    assert s.opened_api > 0 and s.opened_email - s.lost_mail > 0
    assert s.actions.get("resolve", 0) > 0

    facts = asyncio.run(stream_facts(nats_server.url, end))
    figs = figures(facts, desk.deliveries(), office_zones(POLICIES), start, end)
    page = write(tmp_path / "report", "test", figs)
    assert "<svg" in page.read_text()

    # Independently, from the SLA events as the acceptance helper reads them.
    policy_of = {t.id: t.plan.policy for t in driver.tickets if t.id}
    breached, met = {}, {}
    for e in desk.sla_events():
        if not start <= e.time < end or e.name not in ("sla.breached", "sla.met"):
            continue
        key = (e.ticket_id, e.metric, e.cycle)
        group = (policy_of[e.ticket_id], e.data["priority"], e.metric)
        if e.name == "sla.breached":
            breached[key] = group
        elif e.name == "sla.met":
            met.setdefault(key, group)
    expected: Counter[tuple[str, str, str, str]] = Counter()
    for key, group in met.items():
        expected[(*group, "breached" if key in breached else "met")] += 1
    for key, group in breached.items():
        if key not in met:
            expected[(*group, "breached")] += 1
    reported = Counter(
        {(*g, status): n for g, c in figs.compliance.items() for status, n in c.items() if n}
    )
    assert reported == expected
    assert sum(expected.values()) > 0
    assert sum(figs.opened.values()) == s.opened_api + s.opened_email - s.lost_mail
    in_period = [
        d
        for d in desk.deliveries()
        if datetime.fromisoformat(d["created_at"].replace("Z", "+00:00")) < end
    ]
    assert sum(figs.notifications.values()) == len(in_period) > 0
