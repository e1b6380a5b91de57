"""Chat messages through Slack and Microsoft Teams incoming webhooks.

Both take a JSON body over HTTPS: Slack ``{"text": ...}``, Teams a MessageCard with a title
and text. The destination's URL is a secret of the deployment (the destinations file); the
policy names only the destination. Slack accepts about one message per second per webhook,
which the dispatcher's per-channel rate limit respects.
"""

from __future__ import annotations

from typing import Any

import httpx2

from notifier.channels import DeliveryFailed, Outgoing, post
from notifier.destinations import Destinations


def chat_body(kind: str, message: Outgoing) -> dict[str, Any]:
    if kind == "teams":
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": message.subject,
            "title": message.subject,
            "text": message.body.replace("\n", "<br>"),
        }
    return {"text": f"*{message.subject}*\n{message.body}"}


class ChatSender:
    def __init__(self, client: httpx2.AsyncClient, destinations: Destinations) -> None:
        self.client = client
        self.destinations = destinations

    async def send(self, message: Outgoing) -> None:
        destination = self.destinations.chat.get(message.address)
        if destination is None:
            raise DeliveryFailed(
                f"no chat destination {message.address!r} in the destinations file",
                permanent=True,
            )
        await post(
            self.client,
            str(destination.url),
            f"chat {message.address}",
            json=chat_body(destination.kind, message),
        )
