"""Data keys of personal data, in their own table, wrapped by a master key (ADR 23).

Each contact has one data key for their directory record and one per ticket they opened: the
contact's erasure deletes them all, a retention period deletes one closed ticket's. A data key
is stored only wrapped (AES-256-GCM under the master key, the key id as associated data), in
the event store's own database (``personal_data_keys``), so a stolen copy of the database
without the master key opens nothing. Erasing a key overwrites the wrapped bytes and keeps a
tombstone (who, when): the key service then answers 410, not 404, and nothing can issue the
same id again.

The master key is behind ``MasterKey``, shaped like a KMS (wrap, unwrap, an id): the
environment's key (``TICKET_API_MASTER_KEY``) is one implementation, a cloud KMS another.
A canary row, wrapped when the table is first made, is unwrapped at every start: a lost or
wrong master key stops the service at start-up (``MasterKeyMismatch``), before it could write
data no one can read or read everything as erased.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from servicekit.personal_data import KEY_BYTES, NONCE_BYTES, UnknownKey, new_data_key
from ticket_api.log_position import Dialect

CANARY = "master-key-check"
DEVELOPMENT_MASTER_KEY = base64.b64encode(b"supportdesk development master!!").decode()
"""Used when none is configured and only in development (``Settings`` refuses to start a
non-development ticket-api without ``TICKET_API_MASTER_KEY``). Public: never for real data."""
CACHE_SECONDS = 30.0
"""How long an unwrapped key is reused. Another replica that erases it is obeyed within this."""


class MasterKeyMismatch(RuntimeError):
    """The configured master key does not open the stored data keys."""


class MasterKey(Protocol):
    """What a KMS offers: wrap and unwrap a data key, bound to its id."""

    def wrap(self, key_id: str, data_key: bytes) -> bytes: ...

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes: ...


class LocalMasterKey:
    """A 256-bit master key given as base64 (``TICKET_API_MASTER_KEY``)."""

    def __init__(self, encoded: str) -> None:
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise MasterKeyMismatch(
                "TICKET_API_MASTER_KEY must be 32 random bytes in base64 "
                '(python -c "import os, base64; print(base64.b64encode(os.urandom(32)).decode())")'
            )
        self._aes = AESGCM(key)

    def wrap(self, key_id: str, data_key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aes.encrypt(nonce, data_key, key_id.encode())

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        return self._aes.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode())


class KeyRing:
    """Issues, opens and erases data keys; cached unwrapped for ``CACHE_SECONDS``."""

    def __init__(self, datastore: Any, master: MasterKey, cache_seconds: float = CACHE_SECONDS):
        self.dialect = Dialect(datastore)
        self.master = master
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, bytes | None]] = {}
        self._lock = threading.Lock()
        blob = "BYTEA" if self.dialect.postgres else "BLOB"
        with datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS personal_data_keys ("
                "key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, contact_id TEXT NOT NULL, "
                f"wrapped {blob}, created_at TEXT NOT NULL, erased_at TEXT, erased_by TEXT)"
            )
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS personal_data_keys_contact "
                "ON personal_data_keys (tenant, contact_id)"
            )
        self._check_master_key()

    def _check_master_key(self) -> None:
        self.ensure(CANARY, tenant="", contact_id="")
        row = self._row(CANARY)
        try:
            self.master.unwrap(CANARY, bytes(row["wrapped"]))
        except InvalidTag:
            raise MasterKeyMismatch(
                "TICKET_API_MASTER_KEY does not open the data keys stored in this event store: "
                "it was lost or replaced. Start with the key the store was written with; "
                "nothing was read or written."
            ) from None

    def _row(self, key_id: str) -> Any:
        with self.dialect.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                self.dialect.sql(
                    "SELECT wrapped, erased_at FROM personal_data_keys WHERE key_id = :id"
                ),
                {"id": key_id},
            )
            return cursor.fetchone()

    def ensure(self, key_id: str, *, tenant: str, contact_id: str) -> None:
        """Issue a data key under this id for the contact, unless there is one (or was)."""
        if key_id in self._cache:
            return
        key = new_data_key()
        wrapped = self.master.wrap(key_id, key)
        with self.dialect.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.dialect.sql(
                    "INSERT INTO personal_data_keys (key_id, tenant, contact_id, wrapped, "
                    "created_at) VALUES (:id, :tenant, :contact, :wrapped, :now) "
                    "ON CONFLICT (key_id) DO NOTHING RETURNING key_id"
                ),
                {
                    "id": key_id,
                    "tenant": tenant,
                    "contact": contact_id,
                    "wrapped": wrapped,
                    "now": datetime.now(UTC).isoformat(),
                },
            )
            issued = cursor.fetchone() is not None
        if issued:  # ours: no need to read it back
            with self._lock:
                self._cache[key_id] = (time.monotonic() + self.cache_seconds, key)

    def issue(self, key_id: str, *, tenant: str, contact_id: str) -> dict[str, Any]:
        """A new data key for a new aggregate, as the row its save writes with the events
        (``recorders``); usable at once, forgotten by ``forget`` if the save fails."""
        key = new_data_key()
        with self._lock:
            self._cache[key_id] = (time.monotonic() + self.cache_seconds, key)
        return {
            "id": key_id,
            "tenant": tenant,
            "contact": contact_id,
            "wrapped": self.master.wrap(key_id, key),
            "now": datetime.now(UTC).isoformat(),
        }

    def forget(self, key_ids: list[str]) -> None:
        """Drop keys ``issue`` made for a save that did not happen."""
        with self._lock:
            for key_id in key_ids:
                self._cache.pop(key_id, None)

    def known(self, key_id: str) -> bool:
        return key_id in self._cache

    def data_key(self, key_id: str) -> bytes | None:
        """The data key; ``None`` once erased; ``UnknownKey`` if never issued."""
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = self._row(key_id)
        if row is None:
            raise UnknownKey(key_id)
        key = None if row["wrapped"] is None else self.master.unwrap(key_id, bytes(row["wrapped"]))
        with self._lock:
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[key_id] = (now + self.cache_seconds, key)
        return key

    def keys_of(self, tenant: str, contact_id: str) -> dict[str, bool]:
        """The contact's key ids, each with whether it is erased."""
        with self.dialect.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                self.dialect.sql(
                    "SELECT key_id, erased_at FROM personal_data_keys "
                    "WHERE tenant = :tenant AND contact_id = :contact"
                ),
                {"tenant": tenant, "contact": contact_id},
            )
            return {r["key_id"]: r["erased_at"] is not None for r in cursor.fetchall()}

    def erase(self, key_ids: list[str], *, by: str, tenant: str, contact_id: str) -> list[str]:
        """Destroy these keys (those not yet destroyed); returns the ids destroyed now. An id
        never issued (a ticket stored plain) gets a tombstone, so it is never issued later."""
        erased: list[str] = []
        with self.dialect.datastore.transaction(commit=True) as cursor:
            if not self.dialect.postgres:  # zero the freed bytes in the file
                cursor.execute("PRAGMA secure_delete = ON")
            for key_id in key_ids:
                values = {"id": key_id, "now": datetime.now(UTC).isoformat(), "by": by,
                          "tenant": tenant, "contact": contact_id}  # fmt: skip
                cursor.execute(
                    self.dialect.sql(
                        "UPDATE personal_data_keys SET wrapped = NULL, erased_at = :now, "
                        "erased_by = :by WHERE key_id = :id AND erased_at IS NULL "
                        "RETURNING key_id"
                    ),
                    values,
                )
                if cursor.fetchone() is not None:
                    erased.append(key_id)
                    continue
                cursor.execute(
                    self.dialect.sql(
                        "INSERT INTO personal_data_keys (key_id, tenant, contact_id, wrapped, "
                        "created_at, erased_at, erased_by) VALUES (:id, :tenant, :contact, "
                        "NULL, :now, :now, :by) ON CONFLICT (key_id) DO NOTHING"
                    ),
                    values,
                )
        with self._lock:
            for key_id in key_ids:
                self._cache[key_id] = (time.monotonic() + self.cache_seconds, None)
        self._reclaim()
        return erased

    def _reclaim(self) -> None:
        """Have PostgreSQL drop the old row versions that still hold the wrapped keys (kept
        until a vacuum); SQLite zeroes them itself (``secure_delete``)."""
        if not self.dialect.postgres:
            return
        try:
            with self.dialect.datastore.get_connection() as conn:
                autocommit = conn.autocommit
                conn.autocommit = True
                try:
                    conn.execute("VACUUM personal_data_keys")
                finally:
                    conn.autocommit = autocommit
        except Exception:  # hygiene only: the keys are already gone for every reader
            return
