"""The supervisor's board driven in a real headless Chromium (Debian's, through Selenium and
Debian's chromedriver), against sla-monitor served by uvicorn on a manual clock and a real
PostgreSQL. Tickets are projected while the page is open, as the consumer would.

BITAM's urgent promise: first response and resolution within one business hour (Monday to
Friday 8:30–18:00 Mexico City); awaiting the customer pauses the resolution clock.
Without a Chromium and its driver the tests skip, saying so.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from generated_clients import served
from introspection import DEV_DIRECTORY, dev_introspection
from test_sla_api import (
    AGENT_ACTOR,
    CUSTOMER_ACTOR,
    MEXICO,
    opened,
    replied,
    run,
    seed,
    settings_for,
)

from contracts.events import ticket as te
from servicekit.clock import ManualClock
from servicekit.web import PrincipalInfo
from sla_monitor.main import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="no headless Chromium here: apt-get install chromium chromium-driver (.ci/run does)",
)
SHOTS = Path(__file__).resolve().parents[3] / "docs" / "img"
MONDAY_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=MEXICO)
DIRECTORY = DEV_DIRECTORY | {
    "agent-globex": PrincipalInfo(
        kind="agent", id="agent-pedro", name="Pedro Ruiz", tenants=["globex"]
    ),
}


def awaiting() -> te.AwaitingCustomer:
    return te.AwaitingCustomer(actor=AGENT_ACTOR, request="¿Qué navegador usa?")


def customer_replied() -> te.CustomerReplied:
    return te.CustomerReplied(actor=CUSTOMER_ACTOR, body="Chrome")


@dataclass
class Site:
    url: str
    clock: ManualClock
    env: dict[str, str]
    browser: Any

    def open(self, path: str) -> None:
        self.browser.get(self.url + path)

    def sign_in(self, key: str) -> None:
        from selenium.webdriver.common.by import By

        self.browser.delete_all_cookies()
        self.open("/board/sign-in")
        self.browser.find_element(By.ID, "credential").send_keys(key)
        self.browser.find_element(By.ID, "sign-in").click()
        self.wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, "#queue[data-connected]"))

    def row(self, ticket: UUID) -> dict[str, str] | None:
        """The ticket's row as shown now (read in one go: the stream swaps rows any time)."""
        found: dict[str, str] | None = self.browser.execute_script(
            "var r = document.getElementById(arguments[0]); return r && {text: r.innerText,"
            " cls: r.className, countdown: r.querySelector('.countdown').textContent};",
            f"t-{ticket}",
        )
        return found

    def wait_for(self, condition: Any, seconds: float = 1.0) -> Any:
        """Poll ``condition`` until it holds (the board's promise: within a second)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if value := condition():
                    return value
            except Exception:  # a row swapped while being read: look again
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {seconds}s: {condition}")
            time.sleep(0.05)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.browser.save_screenshot(str(SHOTS / f"board-{name}.png"))


@pytest.fixture
def site(postgres_env: dict[str, str]) -> Iterator[Site]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    clock = ManualClock(MONDAY_0900)
    app = create_app(
        settings_for(postgres_env), clock=clock, principals=dev_introspection(DIRECTORY)
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800"):
        options.add_argument(flag)
    with ExitStack() as stack:
        url = stack.enter_context(served(app))
        browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        stack.callback(browser.quit)
        yield Site(url, clock, postgres_env, browser)


def project(site: Site, tenant: str, ticket: UUID, story: list[Any], first: int = 1) -> None:
    """Store and project events in one transaction, as the consumer does: the stream never
    sees a ticket's clocks without its names."""
    run(seed(site.env, tenant, ticket, story, first_version=first))


def test_the_live_queue_counts_down_pauses_breaches_and_remembers(site: Site) -> None:
    site.sign_in("dev-supervisor")

    # A ticket projected while the page is open appears within a second, without a reload.
    ticket = uuid4()
    project(site, "acme", ticket, [(opened(case_number="BIT-000101"), MONDAY_0900)])
    row = site.wait_for(lambda: site.row(ticket))
    assert "BIT-000101" in row["text"] and "acme" in row["text"] and "urgente" in row["text"]
    assert "on-time" in row["cls"]

    # Answered at 9:05, then awaiting the customer at 9:10: the resolution clock pauses.
    site.clock.set(MONDAY_0900 + timedelta(minutes=10))
    project(
        site,
        "acme",
        ticket,
        [(replied(), MONDAY_0900 + timedelta(minutes=5)), (awaiting(), site.clock.now())],
        first=2,
    )
    site.wait_for(lambda: "paused" in site.row(ticket)["cls"])
    shown = site.wait_for(lambda: site.row(ticket))["countdown"]
    assert shown == "0:50:00"
    time.sleep(1.2)
    assert site.wait_for(lambda: site.row(ticket))["countdown"] == shown
    site.shot("queue-paused")

    # The customer answers at 9:20; by 10:30 the hour is used up: the row turns red.
    site.clock.set(MONDAY_0900 + timedelta(minutes=20))
    project(site, "acme", ticket, [(customer_replied(), site.clock.now())], first=4)
    site.wait_for(lambda: "paused" not in site.row(ticket)["cls"])
    site.clock.set(MONDAY_0900 + timedelta(minutes=90))
    site.wait_for(lambda: "breached" in site.row(ticket)["cls"], 2.0)
    site.shot("queue-breached")

    # As of 9:30, before the breach, the same ticket was on time: replayed from its events.
    site.open("/board?as_of=2026-11-30T09:30:00-06:00")
    row = site.wait_for(lambda: site.row(ticket))
    assert "breached" not in row["cls"] and "on-time" in row["cls"]
    assert row["countdown"] == "0:40:00"
    assert "4" in site.browser.find_element("id", "position").text
    site.shot("queue-as-of")

    # The ticket's page: its clocks, escalations and the receipt.
    site.open("/board/tickets/BIT-000101")
    assert "BIT-000101" in site.browser.find_element("tag name", "h1").text
    assert site.browser.find_elements("css selector", "#clocks tr.breached")
    receipt = site.browser.find_element("css selector", "pre.receipt").text
    assert "total contado 1:20:00 = tiempo usado 1:20:00" in receipt
    site.shot("ticket")

    # Compliance of the period: the first response met on time.
    site.open("/board/compliance?since=2026-11-01T00:00Z&until=2026-12-01T00:00Z&lang=en")
    assert "bitam · urgente" in site.browser.find_element("tag name", "main").text
    assert site.browser.find_elements("css selector", "svg.chart rect.good")
    site.shot("compliance")


def test_an_agent_of_one_tenant_never_sees_another_tenants_tickets(site: Site) -> None:
    acme, globex = uuid4(), uuid4()
    project(site, "acme", acme, [(opened(case_number="BIT-000201"), MONDAY_0900)])
    project(site, "globex", globex, [(opened(case_number="BIT-000202"), MONDAY_0900)])

    # Customers are refused at the door.
    site.browser.delete_all_cookies()
    site.open("/board/sign-in")
    site.browser.find_element("id", "credential").send_keys("dev-customer")
    site.browser.find_element("id", "sign-in").click()
    assert site.browser.find_elements("id", "sign-in-error")

    site.sign_in("agent-globex")
    assert site.row(globex) and site.row(acme) is None
    site.shot("sign-in-agent")

    # Pushed rows obey the same wall: a new globex ticket arrives, a new acme one never does.
    later_acme, later_globex = uuid4(), uuid4()
    site.clock.set(MONDAY_0900 + timedelta(minutes=1))
    project(site, "acme", later_acme, [(opened(case_number="BIT-000203"), site.clock.now())])
    project(site, "globex", later_globex, [(opened(case_number="BIT-000204"), site.clock.now())])
    site.wait_for(lambda: site.row(later_globex))
    time.sleep(0.3)
    assert site.row(later_acme) is None and site.row(acme) is None

    # Nor by name: another tenant's ticket page is not found, its as-of queue holds none.
    site.open("/board/tickets/BIT-000201")
    assert "BIT-000201" not in site.browser.find_element("tag name", "main").text
    site.open("/board?as_of=2026-11-30T09:05:00-06:00")
    assert site.row(globex) and site.row(acme) is None
