"""Signing in to the board: a credential exchanged for a session cookie, and CSRF tokens.

The board is a browser page, so it cannot send ``Authorization`` headers as the read API's
clients do. A person pastes what ticket-api accepts (an API key, or an OIDC access token) once;
ticket-api's introspection checks it (ADR 0014) and the board keeps it **in this process's
memory only**, behind a random session token. The cookie carries that token signed with
HMAC-SHA256 (standard library): a forged or altered cookie is refused without a lookup, and
the credential itself never travels back to the browser nor rests on disk. Every page and
every poll of the board's stream resolves the credential again through the introspection
cache, so a revoked key or an agent taken off a tenant loses the board within its TTL.

A process restart signs everyone out, and replicas need sticky sessions (ADR 0021 says why
that trade was made). Forms that write (sign-in, sign-out) carry a CSRF token: before signing
in, a double-submit token in its own cookie; after, the session's own token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "board_session"
CSRF_COOKIE = "board_csrf"


@dataclass
class Session:
    credential: str
    csrf: str
    expires: float


class Sessions:
    """Signed session tokens mapped to the credential each one signed in with."""

    def __init__(
        self,
        secret: bytes,
        *,
        ttl: float,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret = secret
        self.ttl = ttl
        self.max_entries = max_entries
        self.monotonic = monotonic
        self._sessions: dict[str, Session] = {}

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

    def open(self, credential: str) -> tuple[str, Session]:
        """A new session for ``credential``: the cookie's value and the session."""
        now = self.monotonic()
        if len(self._sessions) >= self.max_entries:
            self._forget_expired(now)
            while len(self._sessions) >= self.max_entries:  # the oldest go first
                del self._sessions[next(iter(self._sessions))]
        token = secrets.token_urlsafe(32)
        session = Session(credential, secrets.token_urlsafe(24), now + self.ttl)
        self._sessions[token] = session
        return self.sign(token), session

    def get(self, cookie: str | None) -> Session | None:
        token = self.unsign(cookie)
        session = None if token is None else self._sessions.get(token)
        if session is None or session.expires <= self.monotonic():
            return None
        return session

    def close(self, cookie: str | None) -> None:
        token = self.unsign(cookie)
        if token is not None:
            self._sessions.pop(token, None)

    def csrf_pair(self) -> tuple[str, str]:
        """A sign-in form's token and the signed cookie that must come back with it."""
        token = secrets.token_urlsafe(24)
        return token, self.sign(token)

    def csrf_matches(self, sent: str | None, cookie: str | None) -> bool:
        expected = self.unsign(cookie)
        return bool(sent) and expected is not None and hmac.compare_digest(sent or "", expected)

    def _forget_expired(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[token]
