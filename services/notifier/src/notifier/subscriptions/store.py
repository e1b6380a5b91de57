"""The subscriptions table and its use cases: create, read, pause, resume, rotate, delete.

One row per subscription. Its secret is stored sealed (``sealing``) and returned only by the
two calls that make one (create, rotate). A rotation keeps the previous secret until
``previous_until`` (business time, the injectable clock), so for that window every delivery
carries both signatures and a receiver can switch keys without losing a message.

Every read and change takes the caller's tenant scope (``None``: every tenant) into its
``WHERE``: a subscription of another tenant is not found, neither read nor changed. A
subscription without a tenant (all tenants) is seen only by admins of every tenant.
"""

from __future__ import annotations

import secrets as random_ids
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from notifier.subscriptions.sealing import Sealer, new_secret
from servicekit.clock import Clock
from servicekit.messaging.consumer import Connection

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id TEXT PRIMARY KEY,
    seq BIGSERIAL NOT NULL,
    tenant TEXT,
    url TEXT NOT NULL,
    events TEXT[] NOT NULL,
    policy TEXT,
    priority TEXT,
    description TEXT,
    owner_email TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    paused_reason TEXT,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_until TIMESTAMPTZ,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_subscriptions_active ON webhook_subscriptions (tenant)
    WHERE status = 'active';
CREATE INDEX IF NOT EXISTS deliveries_by_address ON deliveries (channel, address, seq);
"""

ADDRESS_PREFIX = "sub:"
"""A subscription's deliveries are logged at address ``sub:<id>`` on the webhook channel, so
the log's unique key makes each (event, subscription) one delivery, as for any address."""

Scope = list[str] | None
"""The tenants a caller sees (``None``: all), as ``Principal.scope`` answers."""

SCOPED = "($2::text[] IS NULL OR tenant = ANY($2::text[]))"


def address_of(subscription_id: str) -> str:
    return ADDRESS_PREFIX + subscription_id


@dataclass(frozen=True)
class Subscription:
    id: str
    tenant: str | None
    url: str
    events: list[str]
    policy: str | None
    priority: str | None
    description: str | None
    owner_email: str | None
    status: str
    paused_reason: str | None
    consecutive_failures: int
    previous_until: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> Subscription:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class NewSubscription:
    url: str
    events: list[str]
    tenant: str | None
    policy: str | None = None
    priority: str | None = None
    description: str | None = None
    owner_email: str | None = None


def wanted_by(event_name: str) -> list[str]:
    """The ``events`` entries that select an event: its name, its family, everything."""
    return [event_name, event_name.split(".")[0] + ".*", "*"]


class Subscriptions:
    """The subscriptions' use cases over the notifier's database."""

    def __init__(self, clock: Clock, sealer: Sealer, *, pause_after: int = 10) -> None:
        self.clock = clock
        self.sealer = sealer
        self.pause_after = pause_after
        self.pool: asyncpg.Pool | None = None

    def db(self) -> asyncpg.Pool:
        if self.pool is None:
            raise ConnectionError("the database pool is not open")
        return self.pool

    async def create(self, spec: NewSubscription, *, by: str) -> tuple[Subscription, str]:
        """Store a new active subscription; the secret is returned here and never again."""
        secret, now = new_secret(), self.clock.now()
        async with self.db().acquire() as conn:
            row = await conn.fetchrow(
                "INSERT INTO webhook_subscriptions (id, tenant, url, events, policy, priority,"
                " description, owner_email, secret, created_by, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING *",
                "wh_" + random_ids.token_hex(10),
                spec.tenant,
                spec.url,
                spec.events,
                spec.policy,
                spec.priority,
                spec.description,
                spec.owner_email,
                self.sealer.seal(secret),
                by,
                now,
            )
        assert row is not None  # INSERT … RETURNING always returns the row
        return Subscription.of(row), secret

    async def page(self, scope: Scope, *, after: int, limit: int) -> list[tuple[int, Subscription]]:
        """Subscriptions the scope sees, oldest first, after sequence ``after`` (with each
        one's sequence, the next page's cursor)."""
        async with self.db().acquire() as conn:
            rows = await conn.fetch(
                f"SELECT * FROM webhook_subscriptions WHERE seq > $1 AND {SCOPED}"
                " ORDER BY seq LIMIT $3",
                after,
                scope,
                limit,
            )
        return [(r["seq"], Subscription.of(r)) for r in rows]

    async def get(self, subscription_id: str, scope: Scope) -> Subscription | None:
        async with self.db().acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT * FROM webhook_subscriptions WHERE id = $1 AND {SCOPED}",
                subscription_id,
                scope,
            )
        return Subscription.of(row) if row else None

    async def pause(self, subscription_id: str, scope: Scope, reason: str) -> Subscription | None:
        return await self._update(
            subscription_id, scope, "status = 'paused', paused_reason = $3", reason
        )

    async def resume(self, subscription_id: str, scope: Scope) -> Subscription | None:
        """Active again, with a clean failure count: the owner says the receiver is fixed."""
        return await self._update(
            subscription_id,
            scope,
            "status = 'active', paused_reason = NULL, consecutive_failures = 0",
        )

    async def rotate(
        self, subscription_id: str, scope: Scope, overlap: timedelta
    ) -> tuple[Subscription, str] | None:
        """A new secret; the current one still signs until ``now + overlap``. A rotation
        during another's window drops the oldest secret: at most two are ever valid."""
        secret = new_secret()
        changed = await self._update(
            subscription_id,
            scope,
            "previous_secret = secret, previous_until = $3::timestamptz, secret = $4",
            self.clock.now() + overlap,
            self.sealer.seal(secret),
        )
        return (changed, secret) if changed else None

    async def delete(self, subscription_id: str, scope: Scope) -> bool:
        async with self.db().acquire() as conn:
            deleted = await conn.fetchval(
                f"DELETE FROM webhook_subscriptions WHERE id = $1 AND {SCOPED} RETURNING true",
                subscription_id,
                scope,
            )
        return bool(deleted)

    async def _update(
        self, subscription_id: str, scope: Scope, changes: str, *args: object
    ) -> Subscription | None:
        async with self.db().acquire() as conn:
            row = await conn.fetchrow(
                f"UPDATE webhook_subscriptions SET {changes}, updated_at = now()"
                f" WHERE id = $1 AND {SCOPED} RETURNING *",
                subscription_id,
                scope,
                *args,
            )
        return Subscription.of(row) if row else None

    async def matching(
        self, conn: Connection, *, tenant: str, policy: str, priority: str, event_name: str
    ) -> list[Subscription]:
        """Active subscriptions that want this event of this tenant (in the consumer's
        transaction, so the deliveries are logged with the event's dedupe record)."""
        rows = await conn.fetch(
            "SELECT * FROM webhook_subscriptions WHERE status = 'active'"
            " AND (tenant IS NULL OR tenant = $1) AND (policy IS NULL OR policy = $2)"
            " AND (priority IS NULL OR priority = $3) AND events && $4::text[] ORDER BY seq",
            tenant,
            policy,
            priority,
            wanted_by(event_name),
        )
        return [Subscription.of(r) for r in rows]

    async def signing(self, subscription_id: str) -> tuple[Subscription, list[str]] | None:
        """The subscription and the secrets to sign with now: the current one, and the
        previous one while its rotation window lasts."""
        async with self.db().acquire() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM webhook_subscriptions WHERE id = $1", subscription_id
            )
        if row is None:
            return None
        keys = [self.sealer.open(row["secret"])]
        until = row["previous_until"]
        if row["previous_secret"] and until is not None and self.clock.now() < until:
            keys.append(self.sealer.open(row["previous_secret"]))
        return Subscription.of(row), keys

    async def succeeded(self, subscription_id: str) -> None:
        async with self.db().acquire() as conn:
            await conn.execute(
                "UPDATE webhook_subscriptions SET consecutive_failures = 0"
                " WHERE id = $1 AND consecutive_failures > 0",
                subscription_id,
            )

    async def failed(self, subscription_id: str, reason: str) -> Subscription | None:
        """Count a failed delivery; the subscription if this failure paused it (only once:
        the row lock orders concurrent failures, and only the active-to-paused step counts)."""
        why = f"paused after {self.pause_after} consecutive failed deliveries; last: {reason}"
        async with self.db().acquire() as conn:
            row = await conn.fetchrow(
                "WITH old AS (SELECT id, status FROM webhook_subscriptions WHERE id = $1"
                " FOR UPDATE)"
                " UPDATE webhook_subscriptions s"
                " SET consecutive_failures = s.consecutive_failures + 1,"
                " status = CASE WHEN s.consecutive_failures + 1 >= $2 THEN 'paused'"
                " ELSE s.status END,"
                " paused_reason = CASE WHEN s.consecutive_failures + 1 >= $2"
                " AND s.status = 'active' THEN $3 ELSE s.paused_reason END,"
                " updated_at = now()"
                " FROM old WHERE s.id = old.id"
                " RETURNING s.*, old.status = 'active' AND s.status = 'paused' AS just_paused",
                subscription_id,
                self.pause_after,
                why[:2000],
            )
        return Subscription.of(row) if row is not None and row["just_paused"] else None
