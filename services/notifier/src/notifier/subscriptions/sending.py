"""Sending to subscriptions: signed deliveries, test pings, and pausing a failing receiver.

A subscription's delivery is a webhook like an integration's (same body, same headers), with
three differences: the secret comes from the database (both secrets during a rotation), the
URL is checked again before every attempt (DNS rebinding: the host may resolve inwards now),
and every outcome counts — after ``pause_after`` failures in a row the subscription pauses
itself and its owner is told by email through the delivery log, so a dead receiver does not
collect a month of retries nobody reads.
"""

from __future__ import annotations

import logging
import secrets as random_ids
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2

from contracts.policy import SupportPolicy
from notifier.channels import DeliveryFailed, Outgoing, post
from notifier.channels.webhook import body_of, headers_for
from notifier.delivery import Planned, plan
from notifier.destinations import Destinations, signing_key
from notifier.messages import Messages
from notifier.subscriptions.addresses import DestinationRules, UnsafeDestination, check_destination
from notifier.subscriptions.sealing import SecretUnavailable
from notifier.subscriptions.store import ADDRESS_PREFIX, Subscription, Subscriptions
from servicekit.clock import Clock

log = logging.getLogger(__name__)
PING = "supportdesk.webhook.ping"


@dataclass(frozen=True)
class PingAnswer:
    """What the receiver answered to a test ping (``status`` None: it could not be reached)."""

    webhook_id: str
    status: int | None
    body: str
    error: str | None


class OwnerNotices:
    """Tells a paused subscription's owner: its ``owner_email``, the creator's address in the
    destinations file, and the supervisors' mailboxes of the failing delivery's policy."""

    def __init__(
        self,
        store: Subscriptions,
        policies: Mapping[str, SupportPolicy],
        destinations: Destinations,
        messages: Messages,
        clock: Clock,
    ) -> None:
        self.store, self.policies, self.destinations = store, policies, destinations
        self.messages, self.clock = messages, clock

    def addresses(self, subscription: Subscription, policy: SupportPolicy) -> list[str]:
        creator = self.destinations.agent(subscription.created_by)
        found = [subscription.owner_email, creator.email if creator else None]
        for group_id in policy.notifications.supervisors:
            group = policy.groups.get(group_id)
            found.extend(group.emails if group else [])
        return list(dict.fromkeys(a for a in found if a))

    async def tell(self, subscription: Subscription, delivery_id: str) -> None:
        log.warning(
            "webhook subscription %s paused: %s", subscription.id, subscription.paused_reason
        )
        async with self.store.db().acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT tenant, policy, ticket_id, case_number FROM deliveries WHERE id = $1",
                delivery_id,
            )
            policy = self.policies.get(row["policy"]) if row else None
            if row is None or policy is None:
                return
            context = {
                "recipient_name": None,
                "subscription_id": subscription.id,
                "description": subscription.description,
                "tenant": subscription.tenant or row["tenant"],
                "host": urlsplit(subscription.url).hostname,
                "failures": subscription.consecutive_failures,
                "reason": (subscription.paused_reason or "").split("; last: ", 1)[-1],
            }
            message = self.messages.render_notice(
                "webhook_paused", policy=policy, language=policy.default_locale, context=context
            )
            for address in self.addresses(subscription, policy):
                planned = Planned(
                    event_id=f"{subscription.id}:paused:{subscription.updated_at.isoformat()}",
                    event_type="supportdesk.webhook.paused",
                    ticket_id=row["ticket_id"],
                    tenant=row["tenant"],
                    policy=policy.id,
                    case_number=row["case_number"],
                    kind=message.kind,
                    audience="webhook_owner",
                    channel="email",
                    address=address,
                    recipient_name=None,
                    locale=policy.default_locale,
                    subject=message.subject,
                    body=message.body,
                    short=message.short,
                    event=None,
                    traceparent=None,
                )
                await plan(conn, planned, self.clock.now())


class SubscriptionSender:
    """The webhook channel's sender for ``sub:<id>`` addresses, and the test ping."""

    def __init__(
        self,
        client: httpx2.AsyncClient,
        store: Subscriptions,
        clock: Clock,
        rules: DestinationRules,
        owners: OwnerNotices | None = None,
    ) -> None:
        self.client, self.store, self.clock = client, store, clock
        self.rules, self.owners = rules, owners

    async def send(self, message: Outgoing) -> None:
        subscription_id = message.address.removeprefix(ADDRESS_PREFIX)
        try:
            found = await self.store.signing(subscription_id)
        except SecretUnavailable as exc:
            raise DeliveryFailed(f"cannot sign: {exc}", permanent=True) from exc
        if found is None:
            raise DeliveryFailed("the subscription was deleted", permanent=True)
        subscription, secrets = found
        if subscription.status != "active":
            why = subscription.paused_reason or "by its owner"
            raise DeliveryFailed(f"the subscription is paused ({why})", permanent=True)
        if message.event is None:
            raise DeliveryFailed("a webhook needs the event it carries", permanent=True)
        body = body_of(message.event)
        try:
            await self._check(subscription)
            headers = self._headers(secrets, message.delivery_id, body)
            await post(
                self.client,
                subscription.url,
                f"webhook {subscription.id}",
                content=body,
                headers=headers,
            )
        except DeliveryFailed as failure:
            paused = await self.store.failed(subscription.id, failure.reason)
            if paused is not None and self.owners is not None:
                await self.owners.tell(paused, message.delivery_id)
            raise
        await self.store.succeeded(subscription.id)

    async def ping(self, subscription: Subscription) -> PingAnswer:
        """Send a signed ``supportdesk.webhook.ping`` now (not through the log) and report
        the answer; an unsafe destination raises ``UnsafeDestination``."""
        await check_destination(subscription.url, self.rules)
        found = await self.store.signing(subscription.id)
        if found is None:
            raise LookupError(subscription.id)
        now = self.clock.now()
        ping_id = "ping_" + random_ids.token_hex(12)
        event = {
            "specversion": "1.0",
            "id": ping_id,
            "source": "/notifier",
            "type": PING,
            "subject": subscription.id,
            "time": now.isoformat(),
            "datacontenttype": "application/json",
            "data": {
                "subscription": subscription.id,
                "tenant": subscription.tenant,
                "events": subscription.events,
            },
        }
        body = body_of(event)
        try:
            response = await self.client.post(
                subscription.url, content=body, headers=self._headers(found[1], ping_id, body)
            )
        except httpx2.TransportError as exc:
            return PingAnswer(ping_id, None, "", f"unreachable: {exc!r}")
        return PingAnswer(ping_id, response.status_code, response.text[:2000], None)

    async def _check(self, subscription: Subscription) -> None:
        try:
            await check_destination(subscription.url, self.rules)
        except UnsafeDestination as exc:
            raise DeliveryFailed(f"destination refused: {exc}", permanent=True) from exc

    def _headers(self, secrets: list[str], message_id: str, body: bytes) -> dict[str, str]:
        timestamp = int(self.clock.now().timestamp())
        return headers_for([signing_key(s) for s in secrets], message_id, timestamp, body)
