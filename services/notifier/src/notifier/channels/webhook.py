"""Signed webhooks to integrations, in the Standard Webhooks scheme.

The body is the CloudEvent itself (``application/cloudevents+json``). Three headers let a
receiver verify it and drop repeats (https://www.standardwebhooks.com):

- ``webhook-id``: the delivery id, the same on every attempt of this message;
- ``webhook-timestamp``: seconds since the epoch when this attempt was signed;
- ``webhook-signature``: ``v1,`` + base64 HMAC-SHA256, keyed by the integration's secret,
  over ``<webhook-id>.<webhook-timestamp>.<body>``; during a subscription's secret rotation,
  one such value per valid secret, separated by spaces (the scheme allows several).

A receiver recomputes the HMAC, compares in constant time, and refuses a timestamp outside its
replay window (five minutes is usual). Signing is a few lines of ``hmac``: not worth the
``standardwebhooks`` package at run time, which the tests use to verify independently.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping

import httpx2

from notifier.channels import DeliveryFailed, Outgoing, Sender, post
from notifier.destinations import Destinations
from servicekit.clock import Clock

SUBSCRIPTION_PREFIX = "sub:"


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers_for(keys: list[bytes], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one signed attempt, one signature per key (newest first)."""
    return {
        "content-type": "application/cloudevents+json; charset=utf-8",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(key, message_id, timestamp, body) for key in keys),
        "user-agent": "supportdesk-notifier/1",
    }


def body_of(event: Mapping[str, object]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookSender:
    """Integrations of the destinations file by name; ``sub:<id>`` addresses are handed to
    the subscriptions' sender."""

    def __init__(
        self,
        client: httpx2.AsyncClient,
        destinations: Destinations,
        clock: Clock,
        subscriptions: Sender | None = None,
    ) -> None:
        self.client = client
        self.destinations = destinations
        self.clock = clock
        self.subscriptions = subscriptions

    async def send(self, message: Outgoing) -> None:
        if message.address.startswith(SUBSCRIPTION_PREFIX):
            if self.subscriptions is None:
                raise DeliveryFailed("webhook subscriptions are not configured", permanent=True)
            await self.subscriptions.send(message)
            return
        integration = self.destinations.integrations.get(message.address)
        if integration is None:
            raise DeliveryFailed(f"no integration named {message.address!r}", permanent=True)
        if message.event is None:
            raise DeliveryFailed("a webhook needs the event it carries", permanent=True)
        body = body_of(message.event)
        timestamp = int(self.clock.now().timestamp())
        headers = headers_for([integration.signing_key()], message.delivery_id, timestamp, body)
        await post(
            self.client,
            str(integration.url),
            f"webhook {message.address}",
            content=body,
            headers=headers,
        )
