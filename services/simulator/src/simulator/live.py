"""The running system (``SIMULATED_CLOCK=true make run``) as the driver's ``Port``.

REST through ``httpx2``, mail through the SMTP intake with the standard library, the clock
through the NATS key every service watches (``servicekit.simclock``). ``settle`` cannot see
inside the services, so it watches what they leave on NATS: it returns once every durable
consumer of the ``TICKETS`` and ``SLA`` streams has nothing pending nor unacknowledged and
neither stream grew during a quiet spell long enough for sla-monitor's timer loop to have
made a pass at the new instant (run sla-monitor with a short
``SLA_MONITOR_TIMER_POLL_SECONDS`` for a fast simulation).
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import httpx2
import nats
from nats.aio.client import Client as NatsClient

from contracts.events import SLA_STREAM, TICKETS_STREAM
from servicekit.messaging import servers
from servicekit.simclock import set_shared_time


class LivePort:
    def __init__(self, api_url: str, smtp: tuple[str, int], nats_url: str, quiet: float) -> None:
        self.http = httpx2.Client(base_url=api_url, timeout=30.0)
        self.smtp_address = smtp
        self.nats_url = nats_url
        self.quiet = quiet
        self.loop = asyncio.new_event_loop()
        self.nc: NatsClient = self.loop.run_until_complete(nats.connect(servers=servers(nats_url)))

    def call(
        self, method: str, path: str, key: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        for _ in range(20):
            answer = self.http.request(
                method, path, headers={"Authorization": f"Bearer {key}"}, json=body
            )
            if answer.status_code != 429:
                break
            time.sleep(float(answer.headers.get("Retry-After", "1")))  # rate limited: wait
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, answer.text

    def send_mail(self, sender: str, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, to, subject
        message.set_content(text)
        with smtplib.SMTP(*self.smtp_address, timeout=30) as smtp:
            smtp.send_message(message)

    def move_clock(self, instant: datetime) -> None:
        self.loop.run_until_complete(set_shared_time(self.nats_url, to=instant))

    def settle(self) -> None:
        last: tuple[int, ...] | None = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(self.quiet)
            probe = self.loop.run_until_complete(self._probe())
            if probe == last and probe[-1] == 0:
                return
            last = probe
        raise TimeoutError("the services did not settle within 120 s")

    async def _probe(self) -> tuple[int, ...]:
        """(TICKETS last seq, SLA last seq, pending + unacknowledged over all durables)."""
        js = self.nc.jetstream()
        seqs, backlog = [], 0
        for stream in (TICKETS_STREAM, SLA_STREAM):
            seqs.append((await js.stream_info(stream)).state.last_seq)
            for consumer in await js.consumers_info(stream):
                backlog += (consumer.num_pending or 0) + (consumer.num_ack_pending or 0)
        return (*seqs, backlog)

    def stream_sizes(self) -> tuple[int, int]:
        sizes = self.loop.run_until_complete(self._probe())
        return sizes[0], sizes[1]

    def close(self) -> None:
        self.http.close()
        self.loop.run_until_complete(self.nc.close())
        self.loop.close()
