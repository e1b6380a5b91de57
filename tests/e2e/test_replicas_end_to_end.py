"""Two sla-monitor and two notifier instances produce the same effects as one (issue: deploy).

Both sla-monitors share the projection's durable consumer and the timer table (timers are
claimed with FOR UPDATE SKIP LOCKED); both notifiers share their durables and the delivery log
(deliveries claimed the same way). A PRODITMA ticket is opened and time jumps past its
first-response deadline and half its resolution time, so many timers come due at once: the
ticket is escalated exactly once, and no mail goes out twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from e2e_system import MEXICO, System, running_system
from nats_server import NatsServer

AGENT = {"Authorization": "Bearer dev-agent"}


@pytest.fixture
def system(
    nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path
) -> Iterator[System]:
    with running_system(nats_server, postgres_env, tmp_path, notifier=True, replicas=2) as running:
        yield running


def test_two_replicas_of_each_consumer_fire_each_timer_once_and_send_each_mail_once(
    system: System,
) -> None:
    mail = system.mail
    assert mail is not None and len(system.replicas) == 2
    opened = system.ticket_api.post(
        "/v1/tickets",
        headers=AGENT,
        json={
            "policy": "proditma",
            "tenant": "acme",
            "contact": "contact-ana",
            "title": "El portal no carga",
            "description": "Error 500",
            "ticket_type": "incidente",
            "priority": "alta",
        },
    )
    assert opened.status_code == 201, opened.text
    mail.wait_until(lambda m: "Recibimos su solicitud" in m["Subject"])

    system.clock.set(datetime(2026, 11, 23, 13, 0, 1, tzinfo=MEXICO))
    subject = "Caso escalado al nivel 2"
    mail.wait_until(lambda m: subject in m["Subject"] and "ana@acme.example" in m["To"])
    mail.wait_until(lambda m: subject in m["Subject"] and "soportetecnico@" in m["To"])

    history = system.history(opened.json()["id"])
    assert [e["data"]["to_level"] for e in history if e["type"] == "ticket.escalated"] == [2]
    sent = list(mail.messages)
    repeated = [mid for mid, n in Counter(m["Message-ID"] for m in sent).items() if n > 1]
    assert repeated == []
    per_recipient = Counter((m["To"], m["Subject"]) for m in sent if subject in m["Subject"])
    assert set(per_recipient.values()) == {1}
