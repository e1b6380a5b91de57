"""The channels a message goes out on, one module each, behind one small interface.

A sender either delivers a message or raises ``DeliveryFailed`` saying whether trying again
can help (a server down, a 5xx, a rate limit) or not (an address refused, a 4xx). The
dispatcher decides what happens next; senders never retry on their own, so every attempt is
in the delivery log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx2


@dataclass(frozen=True)
class Outgoing:
    """One message to one address, as the delivery log holds it."""

    delivery_id: str
    """Stable across attempts: the receiver's key to drop a repeat after a crash."""
    channel: str
    address: str
    recipient_name: str | None
    subject: str
    body: str
    short: str
    ticket_id: str
    case_number: str
    event: dict[str, Any] | None
    """The CloudEvent itself (webhooks send it as their body)."""
    created_at: datetime


class DeliveryFailed(Exception):
    """An attempt failed; ``permanent`` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    async def send(self, message: Outgoing) -> None:
        """Deliver or raise ``DeliveryFailed``."""
        ...


TRANSIENT_STATUS = {408, 425, 429}


def check_response(response: httpx2.Response, what: str) -> None:
    """2xx is delivered; 408/425/429/5xx may pass later; any other status will not."""
    if response.is_success:
        return
    status = response.status_code
    reason = f"{what} answered {status}: {response.text[:200]}"
    if status in TRANSIENT_STATUS or status >= 500:
        raise DeliveryFailed(reason, permanent=False, retry_after=retry_after(response))
    raise DeliveryFailed(reason, permanent=True)


def retry_after(response: httpx2.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(moment.tzinfo)).total_seconds())


async def post(client: httpx2.AsyncClient, url: str, what: str, **kwargs: Any) -> None:
    """POST and classify the outcome; connection problems and timeouts are transient."""
    try:
        response = await client.post(url, **kwargs)
    except httpx2.TransportError as exc:
        raise DeliveryFailed(f"{what} unreachable: {exc!r}", permanent=False) from exc
    check_response(response, what)
