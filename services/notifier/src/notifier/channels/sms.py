"""SMS and WhatsApp through a provider's HTTP API (Twilio's Messages API and compatibles).

One POST per message: ``To``, ``From`` and ``Body`` as a form, HTTP Basic with the account and
its token; WhatsApp is the same API with ``whatsapp:`` addresses. The short form of the
message is sent (an SMS is read on a phone). The provider keeps no idempotency key for us, so
a crash between its acceptance and our log can repeat one SMS; the delivery log makes that the
only way a repeat can happen.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx2

from notifier.channels import DeliveryFailed, Outgoing, post


@dataclass(frozen=True)
class SmsSettings:
    api_url: str
    account: str
    token: str
    sms_from: str
    whatsapp_from: str


class SmsSender:
    def __init__(self, client: httpx2.AsyncClient, settings: SmsSettings, *, whatsapp: bool):
        self.client = client
        self.settings = settings
        self.whatsapp = whatsapp

    async def send(self, message: Outgoing) -> None:
        s = self.settings
        sender = s.whatsapp_from if self.whatsapp else s.sms_from
        if not sender:
            channel = "WhatsApp" if self.whatsapp else "SMS"
            raise DeliveryFailed(f"no {channel} sender number configured", permanent=True)
        prefix = "whatsapp:" if self.whatsapp else ""
        url = f"{s.api_url.rstrip('/')}/2010-04-01/Accounts/{s.account}/Messages.json"
        await post(
            self.client,
            url,
            "SMS provider",
            data={"To": prefix + message.address, "From": prefix + sender, "Body": message.short},
            auth=(s.account, s.token),
        )
