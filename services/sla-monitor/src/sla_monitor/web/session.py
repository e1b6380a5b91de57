"""Signing in to the board: a credential exchanged for a session, and CSRF tokens.

The board is a browser page, so it cannot send ``Authorization`` headers as the read API's
clients do. A person pastes what ticket-api accepts (an API key, or an OIDC access token) once;
ticket-api's introspection checks it (ADR 0014) and the board opens a session for it, stored
in sla-monitor's database (``sla_board_sessions``), so a restart or another replica keeps it.

The cookie carries a random session token (256 bits) and nothing else. The table keeps only
what the token opens, never the token: its SHA-256 as the key, who signed in, the session's
CSRF token, the expiry, and the credential **encrypted with a key derived from the token**
(HMAC-SHA256 in counter mode, then an HMAC tag over the ciphertext; standard library). Reading
the table alone yields no credential and no usable cookie; the credential never travels back
to the browser. Every page and every poll of the board's stream resolves the credential again
through the introspection cache, so a revoked key or an agent taken off a tenant loses the
board within its TTL. Expired sessions are refused and purged when a session is opened.

Forms that write (sign-in, sign-out) carry a CSRF token: before signing in, a double-submit
token in its own cookie, signed with the board's secret (HMAC-SHA256; set
``SLA_MONITOR_BOARD_SECRET`` for replicas to accept each other's forms); after, the session's
own token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

SESSION_COOKIE = "board_session"
CSRF_COOKIE = "board_csrf"

OPEN = (
    "INSERT INTO sla_board_sessions (token_hash, principal, credential, csrf, expires_at) "
    "VALUES ($1, $2, $3, $4, $5)"
)
FIND = (
    "SELECT principal, credential, csrf, expires_at FROM sla_board_sessions "
    "WHERE token_hash = $1 AND expires_at > $2"
)
CLOSE = "DELETE FROM sla_board_sessions WHERE token_hash = $1"
PURGE = "DELETE FROM sla_board_sessions WHERE expires_at <= $1"


@dataclass(frozen=True)
class Session:
    principal: str
    credential: str
    csrf: str
    expires: datetime


def _derived(token: str, purpose: bytes) -> bytes:
    return hmac.new(token.encode(), purpose, hashlib.sha256).digest()


def _keystream(key: bytes, length: int) -> bytes:
    blocks = (
        hmac.new(key, i.to_bytes(8, "big"), hashlib.sha256).digest()
        for i in range((length + 31) // 32)
    )
    return b"".join(blocks)[:length]


def _xor(data: bytes, token: str) -> bytes:
    stream = _keystream(_derived(token, b"seal"), len(data))
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def seal(token: str, credential: str) -> bytes:
    """The credential encrypted and authenticated under keys only ``token`` gives."""
    sealed = _xor(credential.encode(), token)
    return sealed + hmac.new(_derived(token, b"tag"), sealed, hashlib.sha256).digest()


def unseal(token: str, stored: bytes) -> str | None:
    """The credential ``seal`` stored, or None when the tag does not match."""
    sealed, tag = stored[:-32], stored[-32:]
    expected = hmac.new(_derived(token, b"tag"), sealed, hashlib.sha256).digest()
    if not hmac.compare_digest(tag, expected):
        return None
    return _xor(sealed, token).decode()


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Sessions:
    """Board sessions in PostgreSQL, on the app's clock (``now``), and the CSRF tokens."""

    def __init__(
        self,
        secret: bytes,
        *,
        ttl: float,
        db: Callable[[], asyncpg.Pool],
        now: Callable[[], datetime],
    ) -> None:
        self.secret = secret
        self.ttl = timedelta(seconds=ttl)
        self.db = db
        self.now = now

    def sign(self, value: str) -> str:
        mac = hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()
        return f"{value}.{mac}"

    def unsign(self, signed: str | None) -> str | None:
        """The value a cookie signed, or None when it was not signed by us."""
        if not signed or "." not in signed:
            return None
        value, _, mac = signed.rpartition(".")
        expected = hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()
        return value if hmac.compare_digest(mac, expected) else None

    async def open(self, credential: str, principal: str) -> tuple[str, Session]:
        """A new session for ``credential`` (who it is: ``principal``): the cookie's value and
        the session. Sessions already expired are purged on the way."""
        now = self.now()
        token = secrets.token_urlsafe(32)
        session = Session(principal, credential, secrets.token_urlsafe(24), now + self.ttl)
        async with self.db().acquire() as conn, conn.transaction():
            await conn.execute(PURGE, now)
            await conn.execute(
                OPEN,
                token_hash(token),
                principal,
                seal(token, credential),
                session.csrf,
                session.expires,
            )
        return token, session

    async def get(self, cookie: str | None) -> Session | None:
        """The session a cookie opens; None when unknown, expired or altered."""
        if not cookie or len(cookie) > 100:
            return None
        async with self.db().acquire() as conn:
            row = await conn.fetchrow(FIND, token_hash(cookie), self.now())
        if row is None:
            return None
        credential = unseal(cookie, row["credential"])
        if credential is None:
            return None
        return Session(row["principal"], credential, row["csrf"], row["expires_at"])

    async def close(self, cookie: str | None) -> None:
        if cookie:
            async with self.db().acquire() as conn:
                await conn.execute(CLOSE, token_hash(cookie))

    def csrf_pair(self) -> tuple[str, str]:
        """A sign-in form's token and the signed cookie that must come back with it."""
        token = secrets.token_urlsafe(24)
        return token, self.sign(token)

    def csrf_matches(self, sent: str | None, cookie: str | None) -> bool:
        expected = self.unsign(cookie)
        return bool(sent) and expected is not None and hmac.compare_digest(sent or "", expected)
