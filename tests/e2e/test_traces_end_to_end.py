"""SREs following one ticket across the three services, as separate processes (issue: traces).

ticket-api, sla-monitor and notifier run as their own processes (their real commands), on one
shared simulated clock, exporting spans over OTLP/HTTP to a receiver in this test, as they would
to a collector. A PRODITMA ticket is opened with a known trace context, then time moves to half
its resolution target so sla-monitor's timer escalates it:

- the opening is one trace through every hop: REST call, event store write, relay publish, both
  consumers, the acknowledgment mail;
- the timer's work is a trace of its own, linked to the trace that armed it, and continued by
  the command to ticket-api, the Escalated event's publish, the consumers and the mail.

Then each service's ``/metrics`` parses and its counters moved. Every wait is on something
arriving (a log line, a mail, a span), never a sleep.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2
import pytest
from nats_server import NatsServer
from prometheus_client.parser import text_string_to_metric_families
from receivers import OtlpReceiver, ReceivedSpan, SmtpSink, free_port

from servicekit.simclock import set_shared_time

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MEXICO = ZoneInfo("America/Mexico_City")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
AGENT = {"Authorization": "Bearer dev-agent"}


class Service:
    """One service process; ``start`` returns once it logged that it serves."""

    def __init__(self, command: str, port: int, env: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [str(BIN / command)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.log: list[str] = []
        ready = threading.Event()

        def drain() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.log.append(line)
                if "Application startup complete" in line:
                    ready.set()
            ready.set()  # exited: let the waiter see it

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(60) or self.process.poll() is not None:
            raise AssertionError(f"{command} did not start:\n{''.join(self.log[-30:])}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def three_services(
    nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[dict[str, Service], OtlpReceiver, SmtpSink]]:
    otlp, mail = OtlpReceiver(), SmtpSink().start()
    asyncio.run(
        set_shared_time(nats_server.url, to=datetime(2026, 11, 23, 9, tzinfo=MEXICO))  # Monday
    )
    ports = {name: free_port() for name in ("ticket-api", "sla-monitor", "notifier")}
    common = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TICKET_API_"))},
        **postgres_env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    environments = {
        "ticket-api": {
            "TICKET_API_PORT": str(ports["ticket-api"]),
            "TICKET_API_DATA_DIR": str(tmp_path / "ticket-api"),
            "TICKET_API_DEV_MODE": "true",
            "TICKET_API_NATS_URL": nats_server.url,
            "TICKET_API_SIMULATED_CLOCK": "true",
        },
        "sla-monitor": {
            "SLA_MONITOR_PORT": str(ports["sla-monitor"]),
            "SLA_MONITOR_NATS_URL": nats_server.url,
            "SLA_MONITOR_SIMULATED_CLOCK": "true",
            "SLA_MONITOR_TIMER_POLL_SECONDS": "0.05",
            "SLA_MONITOR_TICKET_API_URL": f"http://127.0.0.1:{ports['ticket-api']}",
        },
        "notifier": {
            "NOTIFIER_PORT": str(ports["notifier"]),
            "NOTIFIER_NATS_URL": nats_server.url,
            "NOTIFIER_TICKET_API_URL": f"http://127.0.0.1:{ports['ticket-api']}",
            "NOTIFIER_SIMULATED_CLOCK": "true",
            "NOTIFIER_SMTP_PORT": str(mail.port),
            "NOTIFIER_DISPATCH_POLL_SECONDS": "0.05",
        },
    }
    services: dict[str, Service] = {}
    try:
        for name, env in environments.items():
            services[name] = Service(name, ports[name], {**common, **env})
        yield services, otlp, mail
    finally:
        for service in services.values():
            service.stop()
        otlp.stop()
        mail.stop()


def names(spans: list[ReceivedSpan], trace_id: str) -> set[tuple[str, str]]:
    return {(s.service, s.name) for s in spans if s.trace_id == trace_id}


def test_one_ticket_action_is_one_trace_across_services_and_a_timer_links_back(
    three_services: tuple[dict[str, Service], OtlpReceiver, SmtpSink], nats_server: NatsServer
) -> None:
    services, otlp, mail = three_services
    api = httpx2.Client(base_url=services["ticket-api"].url, timeout=10)
    opened = api.post(
        "/v1/tickets",
        headers={**AGENT, "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
        json={
            "policy": "proditma",
            "tenant": "acme",
            "contact": "contact-ana",
            "title": "El portal no carga",
            "description": "Error 500 al entrar",
            "ticket_type": "incidente",
            "priority": "alta",
        },
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["id"]
    mail.wait_until(lambda m: "Recibimos su solicitud" in m["Subject"], timeout=60)

    opening = {
        ("ticket-api", "POST /v1/tickets"),
        ("ticket-api", "event store save"),
        ("ticket-api", "send ticket.opened"),
        ("sla-monitor", "process ticket.opened"),
        ("notifier", "process ticket.opened"),
        ("notifier", "notify email"),
    }
    spans = otlp.wait_until(lambda got: opening <= names(got, TRACE_ID))
    server = next(s for s in spans if s.trace_id == TRACE_ID and s.name == "POST /v1/tickets")
    assert server.attributes["supportdesk.ticket.id"] == ticket_id
    assert server.attributes["http.response.status_code"] == 201
    send = next(s for s in spans if s.trace_id == TRACE_ID and s.name == "send ticket.opened")
    assert send.attributes["messaging.system"] == "nats" and send.kind == 4  # PRODUCER
    # Each consumer's span is a child of the publish: the hops chain, they do not just share ids.
    consumers = [s for s in spans if s.trace_id == TRACE_ID and s.name == "process ticket.opened"]
    assert {c.parent_id for c in consumers} == {send.span_id}

    # Half of the 8-hour resolution target: sla-monitor's timer escalates the ticket.
    asyncio.run(
        set_shared_time(nats_server.url, to=datetime(2026, 11, 23, 13, 0, 1, tzinfo=MEXICO))
    )
    mail.wait_until(lambda m: "escalado al nivel 2" in m["Subject"], timeout=60)

    def escalation_traced(got: list[ReceivedSpan]) -> bool:
        roots = [s for s in got if s.name == "sla timer escalate"]
        return bool(roots) and {
            ("sla-monitor", "POST /v1/tickets/{id}/escalate"),
            ("ticket-api", "POST /v1/tickets/{ticket_ref}/escalate"),
            ("ticket-api", "send ticket.escalated"),
            ("notifier", "process ticket.escalated"),
            ("notifier", "notify email"),
        } <= names(got, roots[0].trace_id)

    spans = otlp.wait_until(escalation_traced)
    timer = next(s for s in spans if s.name == "sla timer escalate")
    assert timer.service == "sla-monitor" and timer.parent_id is None  # a trace of its own
    assert timer.trace_id != TRACE_ID
    # ... linked to the trace that armed it: the ticket's opening.
    assert [trace for trace, _ in timer.links] == [TRACE_ID]
    assert timer.attributes["supportdesk.ticket.id"] == ticket_id

    # The counters moved, and every /metrics parses as Prometheus text.
    samples = {
        name: [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(
                httpx2.get(f"{service.url}/metrics", timeout=10).text
            )
            for sample in family.samples
        ]
        for name, service in services.items()
    }

    def total(service: str, metric: str, **labels: str) -> float:
        return sum(
            value
            for name, have, value in samples[service]
            if name == metric and all(have.get(k) == v for k, v in labels.items())
        )

    assert total("ticket-api", "http_server_request_duration_seconds_count") >= 2
    assert total("sla-monitor", "supportdesk_consumer_handled_total") >= 1
    assert total("sla-monitor", "supportdesk_sla_timer_firing_lag_seconds_count") >= 1
    assert total("notifier", "supportdesk_notifier_deliveries_total", outcome="sent") >= 2
    # Everything committed was published: the relay's lag gauge reads 0.
    assert [v for n, _, v in samples["ticket-api"] if n == "supportdesk_relay_lag"] == [0.0]
