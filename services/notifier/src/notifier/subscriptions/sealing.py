"""Subscription secrets: made once, shown once, kept sealed at rest.

A secret is ``whsec_`` + base64 of 32 random bytes, as Standard Webhooks libraries expect.
The notifier must sign with it, so it cannot keep only a hash (as ticket-api does for API
keys); with a master key configured it is stored encrypted with Fernet (AES-128-CBC +
HMAC-SHA256), so a database dump alone does not let anyone forge our webhooks. Several master
keys (newest first) let an operator rotate the master key: old rows still open, new rows are
sealed with the first key.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SEALED = "fernet:"
PLAIN = "plain:"


def new_secret() -> str:
    """A fresh ``whsec_…`` signing secret (256 random bits)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class SecretUnavailable(Exception):
    """A stored secret cannot be opened (sealed with a master key we no longer have)."""


class Sealer:
    """Seals secrets for the database and opens them to sign; never logs them."""

    def __init__(self, master_keys: str | None) -> None:
        keys = [k.strip() for k in (master_keys or "").split(",") if k.strip()]
        self.fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None

    @property
    def encrypting(self) -> bool:
        return self.fernet is not None

    def seal(self, secret: str) -> str:
        if self.fernet is None:
            return PLAIN + secret
        return SEALED + self.fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if stored.startswith(PLAIN):
            return stored.removeprefix(PLAIN)
        if self.fernet is None:
            raise SecretUnavailable("the secret is sealed and no master key is configured")
        try:
            return self.fernet.decrypt(stored.removeprefix(SEALED).encode()).decode()
        except InvalidToken as exc:
            raise SecretUnavailable("the secret was sealed with another master key") from exc
