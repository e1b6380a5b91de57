"""Delivery over real local servers: an SMTP server (aiosmtpd) and HTTP receivers.

Each test logs deliveries the way the consumer does, then runs the dispatcher on a manual
clock: retries are due times, so "later" is a clock advance, never a sleep.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import time
from collections.abc import Awaitable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import httpx2
from notifier_fixtures import AT, ROOT, Story, opened
from receivers import HttpReceiver, SmtpSink, free_port
from standardwebhooks.webhooks import Webhook

from notifier.channels import Sender
from notifier.channels.chat import ChatSender
from notifier.channels.email import EmailSender, SmtpSettings
from notifier.channels.sms import SmsSender, SmsSettings
from notifier.channels.webhook import WebhookSender, sign
from notifier.delivery import CLAIM, SCHEMA, Dispatcher, Planned, RetryPolicy, outgoing, plan
from notifier.destinations import ChatDestination, Destinations, Integration, signing_key
from servicekit.clock import ManualClock
from servicekit.messaging.database import create_pool

T = TypeVar("T")
SECRET = "whsec_" + base64.b64encode(b"a-signing-key-of-32-bytes-long!!").decode()


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def planned(channel: str, address: str, *, event_id: str = "t1:1", **changes: Any) -> Planned:
    story = Story("bitam")
    event = story.event(opened("bitam"))
    fields: dict[str, Any] = {
        "event_id": event_id,
        "event_type": "ticket.opened",
        "ticket_id": str(story.ticket_id),
        "tenant": "acme",
        "policy": "bitam",
        "case_number": "BIT-000042",
        "kind": "acknowledgment",
        "audience": "customer",
        "channel": channel,
        "address": address,
        "recipient_name": "Ana Ruiz",
        "locale": "es",
        "subject": "[BIT-000042] Recibimos su solicitud",
        "body": "Hola Ana:\n\nRegistramos su solicitud.\n",
        "short": "BIT-000042: recibimos su solicitud.",
        "event": event.model_dump(mode="json", exclude_none=True),
        "traceparent": None,
    }
    return Planned(**(fields | changes))


class Desk:
    """A delivery log in a fresh database and a dispatcher over the given senders."""

    def __init__(self, env: Mapping[str, str], senders: Mapping[str, Sender], **options: Any):
        self.env, self.senders, self.options = env, senders, options
        self.clock = ManualClock(AT)

    async def __aenter__(self) -> Desk:
        self.pool = await create_pool(self.env)
        async with self.pool.acquire() as conn:
            await conn.execute(SCHEMA)
        self.dispatcher = Dispatcher(
            self.pool, self.clock, self.senders, rng=random.Random(7), **self.options
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pool.close()

    async def log(self, *messages: Planned) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for message in messages:
                await plan(conn, message, self.clock.now())

    async def rows(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM deliveries ORDER BY seq")
        return [dict(r) for r in rows]


def smtp(port: int) -> EmailSender:
    return EmailSender(
        SmtpSettings(
            host="127.0.0.1",
            port=port,
            sender="Soporte <soporte@desk.example>",
            message_id_domain="desk.example",
            timeout=5,
        )
    )


def test_an_email_goes_out_once_with_a_stable_message_id_and_ticket_threading(
    postgres_env: dict[str, str],
) -> None:
    sink = SmtpSink().start()
    try:

        async def scenario() -> list[dict[str, Any]]:
            async with Desk(postgres_env, {"email": smtp(sink.port)}) as desk:
                message = planned("email", "ana@acme.example")
                await desk.log(message)
                await desk.log(message)  # the same event logged again: still one delivery
                assert await desk.dispatcher.dispatch_due() == 1
                assert await desk.dispatcher.dispatch_due() == 0
                return await desk.rows()

        rows = run(scenario())
        [mail] = sink.wait_for(1)
        assert len(sink.messages) == 1
        assert rows[0]["status"] == "sent" and rows[0]["attempts"] == 1
        assert mail["Message-ID"] == f"<{rows[0]['id']}@desk.example>"
        assert mail["References"] == f"<ticket-{rows[0]['ticket_id']}@desk.example>"
        assert mail["To"] == "Ana Ruiz <ana@acme.example>"
        assert mail["Subject"] == "[BIT-000042] Recibimos su solicitud"
        assert mail["Auto-Submitted"] == "auto-generated"
        body = mail.get_content().replace("\r\n", "\n")  # SMTP lines end in CRLF on the wire
        assert body == "Hola Ana:\n\nRegistramos su solicitud.\n"
    finally:
        sink.stop()


def test_smtp_down_is_retried_with_backoff_and_delivered_once_it_is_back(
    postgres_env: dict[str, str],
) -> None:
    port = free_port()  # nothing listens here yet

    async def scenario(sink_box: list[SmtpSink]) -> list[dict[str, Any]]:
        retry = RetryPolicy(max_attempts=5, base=timedelta(seconds=30))
        async with Desk(postgres_env, {"email": smtp(port)}, retry=retry) as desk:
            await desk.log(planned("email", "ana@acme.example"))
            await desk.dispatcher.dispatch_due()
            [row] = await desk.rows()
            assert row["status"] == "pending" and row["attempts"] == 1
            assert "unreachable" in row["last_error"]
            wait = row["next_attempt_at"] - AT
            assert timedelta(seconds=15) <= wait <= timedelta(seconds=30)  # equal jitter
            # Not due yet: nothing is attempted.
            assert await desk.dispatcher.dispatch_due() == 0
            sink_box.append(SmtpSink(port).start())
            desk.clock.advance(wait)
            assert await desk.dispatcher.dispatch_due() == 1
            return await desk.rows()

    box: list[SmtpSink] = []
    try:
        rows = run(scenario(box))
        [mail] = box[0].wait_for(1)
        assert rows[0]["status"] == "sent" and rows[0]["attempts"] == 2
        assert mail["Message-ID"] == f"<{rows[0]['id']}@desk.example>"
    finally:
        for sink in box:
            sink.stop()


def test_a_refused_mailbox_is_a_dead_letter_with_the_reason(postgres_env: dict[str, str]) -> None:
    sink = SmtpSink().start()
    sink.refuse.add("nobody@acme.example")
    try:

        async def scenario() -> list[dict[str, Any]]:
            async with Desk(postgres_env, {"email": smtp(sink.port)}) as desk:
                await desk.log(planned("email", "nobody@acme.example"))
                await desk.dispatcher.dispatch_due()
                return await desk.rows()

        [row] = run(scenario())
        assert row["status"] == "dead"
        assert "recipient refused: [550]" in row["last_error"]
        assert sink.messages == []
    finally:
        sink.stop()


def verify_by_hand(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """An independent reading of the Standard Webhooks scheme (not the notifier's code)."""
    key = base64.b64decode(secret.split("_", 1)[1])
    if abs(now - int(headers["webhook-timestamp"])) > 300:
        return False  # outside the replay window
    signed = b".".join(
        [headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(), body]
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, sig.split(",", 1)[1])
        for sig in headers["webhook-signature"].split()
    )


def webhook_desk(env: Mapping[str, str], receiver: HttpReceiver, **options: Any) -> Desk:
    hooks = Destinations(
        integrations={"acme-erp": Integration(url=f"{receiver.url}/hooks", secret=SECRET)}
    )
    desk = Desk(env, {}, **options)
    client = httpx2.AsyncClient(timeout=5)
    desk.senders = {"webhook": WebhookSender(client, hooks, desk.clock)}
    return desk


def test_a_webhook_is_signed_so_a_receiver_can_verify_it_and_drop_repeats(
    postgres_env: dict[str, str],
) -> None:
    receiver = HttpReceiver()
    try:

        async def scenario() -> list[dict[str, Any]]:
            desk = webhook_desk(postgres_env, receiver)
            async with desk:
                await desk.log(planned("webhook", "acme-erp"))
                await desk.dispatcher.dispatch_due()
                return await desk.rows()

        [row] = run(scenario())
        [request] = receiver.wait_for(1)
        assert row["status"] == "sent"
        assert request.path == "/hooks"
        assert request.headers["content-type"].startswith("application/cloudevents+json")
        assert request.headers["webhook-id"] == row["id"]
        event = request.json()
        assert event["type"] == "supportdesk.ticket.opened" and event["specversion"] == "1.0"
        sent_at = AT.timestamp()
        assert verify_by_hand(SECRET, request.headers, request.body, now=sent_at)
        # A changed body, or a replay outside the window, does not verify.
        assert not verify_by_hand(SECRET, request.headers, request.body + b" ", now=sent_at)
        assert not verify_by_hand(SECRET, request.headers, request.body, now=sent_at + 600)
    finally:
        receiver.stop()


def test_the_standard_webhooks_library_verifies_our_signature() -> None:
    body = json.dumps({"id": "t1:1", "type": "supportdesk.ticket.opened"}).encode()
    timestamp = int(time.time())
    headers = {
        "webhook-id": "d-1",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(signing_key(SECRET), "d-1", timestamp, body),
    }
    assert Webhook(SECRET).verify(body, headers) == {
        "id": "t1:1",
        "type": "supportdesk.ticket.opened",
    }


def test_a_receiver_answering_500_is_retried_and_400_is_a_dead_letter(
    postgres_env: dict[str, str],
) -> None:
    receiver = HttpReceiver()
    receiver.answers.extend([(500, {}), (503, {"Retry-After": "120"}), (204, {})])
    try:

        async def scenario() -> list[dict[str, Any]]:
            desk = webhook_desk(postgres_env, receiver)
            async with desk:
                await desk.log(planned("webhook", "acme-erp"))
                await desk.dispatcher.dispatch_due()
                [row] = await desk.rows()
                assert row["status"] == "pending" and "answered 500" in row["last_error"]
                desk.clock.advance(timedelta(minutes=1))
                await desk.dispatcher.dispatch_due()
                [row] = await desk.rows()
                # The receiver asked for two minutes: the backoff (<= 1 min) gives way.
                assert row["next_attempt_at"] - desk.clock.now() == timedelta(seconds=120)
                desk.clock.advance(timedelta(seconds=120))
                await desk.dispatcher.dispatch_due()
                receiver.answers.append((400, {}))
                await desk.log(planned("webhook", "acme-erp", event_id="t1:2"))
                await desk.dispatcher.dispatch_due()
                return await desk.rows()

        first, second = run(scenario())
        assert (first["status"], first["attempts"]) == ("sent", 3)
        assert second["status"] == "dead" and "answered 400" in second["last_error"]
        ids = [r.headers["webhook-id"] for r in receiver.wait_for(4)]
        assert ids[:3] == [first["id"]] * 3  # every attempt carries the same id
    finally:
        receiver.stop()


def test_after_the_last_attempt_a_transient_failure_becomes_a_dead_letter(
    postgres_env: dict[str, str],
) -> None:
    receiver = HttpReceiver()
    receiver.answers.extend([(502, {})] * 3)
    try:

        async def scenario() -> dict[str, Any]:
            desk = webhook_desk(postgres_env, receiver, retry=RetryPolicy(max_attempts=3))
            async with desk:
                await desk.log(planned("webhook", "acme-erp"))
                for _ in range(3):
                    await desk.dispatcher.dispatch_due()
                    desk.clock.advance(timedelta(hours=2))
                [row] = await desk.rows()
                return row

        row = run(scenario())
        assert row["status"] == "dead" and row["attempts"] == 3
        assert row["last_error"].startswith(
            "gave up after 3 attempts: webhook acme-erp answered 502"
        )
    finally:
        receiver.stop()


def test_chat_and_sms_go_through_their_http_apis(postgres_env: dict[str, str]) -> None:
    slack, provider = HttpReceiver(), HttpReceiver()
    provider.answers.append((201, {}))
    try:

        async def scenario() -> list[dict[str, Any]]:
            client = httpx2.AsyncClient(timeout=5)
            chat = Destinations(chat={"soporte": ChatDestination(url=f"{slack.url}/T0/B0/x")})
            sms = SmsSettings(
                api_url=provider.url,
                account="AC123",
                token="secret-token",
                sms_from="+15005550006",
                whatsapp_from="+14155238886",
            )
            senders: dict[str, Sender] = {
                "chat": ChatSender(client, chat),
                "whatsapp": SmsSender(client, sms, whatsapp=True),
            }
            async with Desk(postgres_env, senders) as desk:
                await desk.log(
                    planned("chat", "soporte", audience="level_group"),
                    planned("whatsapp", "+525512345678"),
                    planned("sms", "+525512345678"),  # no SMS sender in this deployment
                )
                await desk.dispatcher.dispatch_due()
                return await desk.rows()

        chat_row, whatsapp_row, sms_row = run(scenario())
        assert chat_row["status"] == whatsapp_row["status"] == "sent"
        assert sms_row["status"] == "dead"
        assert "sms channel is not configured" in sms_row["last_error"]
        [posted] = slack.wait_for(1)
        assert posted.json()["text"].startswith("*[BIT-000042] Recibimos su solicitud*")
        [texted] = provider.wait_for(1)
        assert texted.path == "/2010-04-01/Accounts/AC123/Messages.json"
        form = dict(pair.split("=", 1) for pair in texted.body.decode().split("&"))
        assert form["To"] == "whatsapp%3A%2B525512345678"
        assert "BIT-000042" in form["Body"]
        assert (
            texted.headers["authorization"]
            == "Basic " + base64.b64encode(b"AC123:secret-token").decode()
        )
    finally:
        slack.stop()
        provider.stop()


def test_two_dispatchers_on_one_log_send_each_message_once(postgres_env: dict[str, str]) -> None:
    sink = SmtpSink().start()
    try:

        async def scenario() -> None:
            async with (
                Desk(postgres_env, {"email": smtp(sink.port)}, batch=7) as one,
                Desk(postgres_env, {"email": smtp(sink.port)}, batch=7) as two,
            ):
                await one.log(*(planned("email", f"c{i}@acme.example") for i in range(60)))
                while sum(
                    await asyncio.gather(
                        one.dispatcher.dispatch_due(), two.dispatcher.dispatch_due()
                    )
                ):
                    pass
                rows = await one.rows()
                assert {r["status"] for r in rows} == {"sent"}
                assert {r["attempts"] for r in rows} == {1}
                assert one.dispatcher.sent > 0 and two.dispatcher.sent > 0

        run(scenario())
        mails = sink.wait_for(60)
        assert len({m["Message-ID"] for m in mails}) == len(mails) == 60
    finally:
        sink.stop()


def test_a_crash_between_sending_and_settling_resends_with_the_same_id_after_the_claim(
    postgres_env: dict[str, str],
) -> None:
    receiver = HttpReceiver()
    try:

        async def scenario() -> dict[str, Any]:
            desk = webhook_desk(postgres_env, receiver, claim=timedelta(minutes=2))
            async with desk:
                await desk.log(planned("webhook", "acme-erp"))
                # A worker claims and sends, then dies before recording the outcome.
                async with desk.pool.acquire() as conn:
                    [row] = await conn.fetch(CLAIM, desk.clock.now(), timedelta(minutes=2), 10)
                await desk.senders["webhook"].send(outgoing(row))
                # Other workers leave the claimed row alone, even when business time jumps...
                desk.clock.advance(timedelta(hours=4))
                assert await desk.dispatcher.dispatch_due() == 0
                # ... until the claim runs out on the database's clock (two minutes, made
                # to pass here by moving the claim back).
                async with desk.pool.acquire() as conn:
                    await conn.execute(
                        "UPDATE deliveries SET claimed_until = clock_timestamp() - interval '1 s'"
                    )
                assert await desk.dispatcher.dispatch_due() == 1
                [row] = await desk.rows()
                return row

        row = run(scenario())
        first, second = receiver.wait_for(2)
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == row["id"]
        assert row["status"] == "sent" and row["attempts"] == 2
    finally:
        receiver.stop()


def test_the_readmes_verification_recipe_accepts_our_signature_and_refuses_a_forgery() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python\nimport base64, hashlib, hmac, time")
    recipe = readme[start + len("```python\n") : readme.index("```", start + 3)]
    namespace: dict[str, Any] = {}
    exec(recipe, namespace)
    body = b'{"id":"t1:1"}'
    timestamp = int(time.time())
    headers = {
        "webhook-id": "d-1",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(signing_key(SECRET), "d-1", timestamp, body),
    }
    assert namespace["verify"](SECRET, headers, body)
    assert not namespace["verify"](SECRET, headers, b'{"id":"t1:2"}')
    assert not namespace["verify"](SECRET, {**headers, "webhook-timestamp": "1000"}, body)


def test_each_channel_sends_under_its_own_rate_limit(postgres_env: dict[str, str]) -> None:
    slack = HttpReceiver()
    try:

        async def scenario() -> tuple[bool, bool]:
            client = httpx2.AsyncClient(timeout=5)
            chat = Destinations(chat={"soporte": ChatDestination(url=f"{slack.url}/hook")})
            limits = {"chat": 1.0, "email": 50.0}
            async with Desk(
                postgres_env, {"chat": ChatSender(client, chat)}, rate_limits=limits
            ) as desk:
                await desk.log(planned("chat", "soporte"))
                await desk.dispatcher.dispatch_due()
                # Slack's one message a second: the chat bucket is full after one message,
                # while email's is untouched.
                limiters = desk.dispatcher.limiters
                return limiters["chat"].has_capacity(), limiters["email"].has_capacity()

        assert run(scenario()) == (False, True)
        slack.wait_for(1)
    finally:
        slack.stop()
