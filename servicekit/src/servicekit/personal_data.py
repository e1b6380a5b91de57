"""Personal data sealed with a data key per contact and ticket: what is personal, how it is
sealed, and how a consumer opens it (ADR 23, crypto-shredding).

ticket-api stores every event with its personal fields sealed (AES-256-GCM) under the data key
of the ticket's contact, and publishes exactly what it stored: the wire carries the same
ciphertext. A consumer opens an event before reading it (``Unsealer``), asking ticket-api for
the key with its service credential (``KeyClient``). Erasing a contact deletes their keys:
every copy of the ciphertext — the event store, the ``TICKETS`` stream, a dead letter — turns
into noise at once, and opening it yields the ``ERASED`` placeholders, which the event
contract accepts, so the history, states, times and SLA outcomes stay readable.

The sealed form of an event (state or payload) keeps its shape: each personal field is set to
``None`` and ``sealed`` holds ``{"key": key id, "paths": [...], "box": base64}``, the paths in
clear (they say *where*, never *what*) so an erased event can still be filled in.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import httpx2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.events import CloudEvent
from servicekit.messaging.consumer import TransientError

SEALED = "sealed"
"""The attribute (stored state) and data field (wire) holding the sealed personal fields."""
ERASED = "[borrado · erased]"
"""What a personal text reads as once its key is erased: one label, in Spanish and English,
valid wherever the contract expects text."""
KEY_BYTES = 32
NONCE_BYTES = 12

TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "ticket.opened": (
        "contact.name",
        "contact.email",
        "contact.phone",
        "title",
        "description",
        "intake",
        "attachments.*.name",
    ),
    "ticket.customer_replied": ("body", "attachments.*.name"),
    "ticket.agent_replied": ("body",),
    "ticket.awaiting_customer": ("request",),
    "ticket.contact_attempted": ("note",),
    "ticket.resolved": ("summary",),
    "ticket.reopened": ("reason",),
    "ticket.closed": ("note",),
    "ticket.note_added": ("body",),
    "ticket.classified": ("reason",),
    "ticket.escalated": ("reason",),
    "ticket.etr_updated": ("note",),
    "ticket.feature_request_reviewed": ("cost_note",),
}
"""Personal data in ticket events: the contact's name, email and phone, and every free text —
written by the contact, or by staff about them (a reply, a note, a reason) — plus the
intake answers and attachment names. Besides these, a customer actor's name (``actor.name``).
Identifiers, states, times, priorities, levels and agents' names are not personal data of
the contact and stay in clear: the SLA record is computed from them."""


class KeysUnavailable(TransientError):
    """The key service could not answer now (down, slow, refused): try again later."""


class UnknownKey(ValueError):
    """No data key was ever issued under this id: the data is damaged, not erased."""


def personal_paths(name: str, state: Mapping[str, Any], fields: tuple[str, ...] = ()) -> list[str]:
    """The concrete paths (``contact.name``, ``attachments.0.name``) of the personal values
    present (not ``None``) in an event's state or payload."""
    return [path for path, _ in personal_values(name, state, fields)]


def personal_values(
    name: str, state: Mapping[str, Any], fields: tuple[str, ...] = ()
) -> list[tuple[str, Any]]:
    """Each personal value present in an event's state or payload, with its path."""
    found: list[tuple[str, Any]] = []
    for pattern in _patterns(fields or TEXT_FIELDS.get(name, ())):
        _collect(state, pattern, "", found)
    actor = state.get("actor")
    if isinstance(actor, Mapping) and actor.get("kind") == "customer" and actor.get("name"):
        found.append(("actor.name", actor["name"]))
    return found


@lru_cache(maxsize=256)
def _patterns(fields: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(field.split(".")) for field in fields)


def _collect(value: Any, parts: tuple[str, ...], prefix: str, found: list[tuple[str, Any]]) -> None:
    for index, part in enumerate(parts):
        if part == "*":
            if isinstance(value, list):
                rest = parts[index + 1 :]
                for i, item in enumerate(value):
                    _collect(item, rest, f"{prefix}{i}.", found)
            return
        if not isinstance(value, Mapping):
            return
        value = value.get(part)
        if value is None:
            return
        prefix = f"{prefix}{part}."
    found.append((prefix[:-1], value))


def get_path(state: Any, path: str) -> Any:
    for part in path.split("."):
        state = state[int(part)] if isinstance(state, list) else state.get(part)
        if state is None:
            return None
    return state


def with_path(state: Any, parts: list[str], value: Any) -> Any:
    """A copy of ``state`` with ``value`` at the path; only the containers on the path are
    copied, so the caller's event is never changed."""
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if isinstance(state, list):
        copied = list(state)
        copied[int(head)] = with_path(copied[int(head)], rest, value)
        return copied
    return {**state, head: with_path(state[head], rest, value)}


def erased_value(path: str, value: Any) -> Any:
    """The placeholder of an erased value, valid where the original was: a phone (E.164 by
    contract) becomes absent, answers an empty object, any text ``ERASED``."""
    if path.endswith("phone"):
        return None
    if isinstance(value, dict):
        return {}
    if isinstance(value, list):
        return []
    return ERASED


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(
    name: str, state: dict[str, Any], key_id: str, key: bytes, fields: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``state`` with its personal fields sealed under ``key``; unchanged if it has none."""
    values = personal_values(name, state, fields)
    if not values:
        return state
    paths = [path for path, _ in values]
    plain = json.dumps(dict(values), ensure_ascii=False).encode()
    nonce = os.urandom(NONCE_BYTES)
    box = nonce + AESGCM(key).encrypt(nonce, plain, key_id.encode())
    sealed = dict(state)  # the caller's state and what it holds stay as they are
    copied: set[str] = set()
    for path in paths:
        parts = path.split(".")
        _copy_containers(sealed, parts, copied)
        set_in_place(sealed, parts, None)
    sealed[SEALED] = {"key": key_id, "paths": paths, "box": base64.b64encode(box).decode()}
    return sealed


def unseal(state: dict[str, Any], key: bytes | None, *, in_place: bool = False) -> dict[str, Any]:
    """``state`` with its personal fields opened; with ``key=None`` (erased) the placeholders.
    ``in_place``: change ``state`` itself (a state just decoded, which nobody else holds).

    ``cryptography.exceptions.InvalidTag`` if the box was not sealed with this key."""
    sealed = state.get(SEALED)
    if not isinstance(sealed, Mapping):
        return state
    paths: list[str] = list(sealed["paths"])
    if key is None:
        values: dict[str, Any] = {p: {} if p == "intake" else _placeholder(p) for p in paths}
    else:
        box = base64.b64decode(sealed["box"])
        plain = AESGCM(key).decrypt(box[:NONCE_BYTES], box[NONCE_BYTES:], sealed["key"].encode())
        values = json.loads(plain)
    if in_place:
        del state[SEALED]
        for path in paths:
            set_in_place(state, path.split("."), values[path])
        return state
    opened = {k: v for k, v in state.items() if k != SEALED}
    for path in paths:
        opened = with_path(opened, path.split("."), values[path])
    return opened


def _copy_containers(state: dict[str, Any], parts: list[str], copied: set[str]) -> None:
    """Copy, once each, the containers on the way to a path's leaf, so setting the leaf
    leaves the caller's own containers as they were."""
    holder: Any = state
    prefix = ""
    for part in parts[:-1]:
        prefix = f"{prefix}.{part}"
        child = holder[int(part)] if isinstance(holder, list) else holder[part]
        if prefix not in copied:
            child = list(child) if isinstance(child, list) else dict(child)
            if isinstance(holder, list):
                holder[int(part)] = child
            else:
                holder[part] = child
            copied.add(prefix)
        holder = child


def set_in_place(state: Any, parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        state = state[int(part)] if isinstance(state, list) else state[part]
    if isinstance(state, list):
        state[int(parts[-1])] = value
    else:
        state[parts[-1]] = value


@lru_cache(maxsize=1024)
def _placeholder(path: str) -> str | None:
    """The erased placeholder of a text field (``intake``, an object, is handled apart)."""
    value: str | None = erased_value(path, "")
    return value


def sealed_key(state: Mapping[str, Any]) -> str | None:
    """The id of the key a state or payload is sealed with, if it is sealed."""
    sealed = state.get(SEALED)
    return str(sealed["key"]) if isinstance(sealed, Mapping) else None


def erase(name: str, payload: dict[str, Any], fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """A plain payload (as a consumer stored it) with its personal fields erased."""
    for path in personal_paths(name, payload, fields):
        payload = with_path(payload, path.split("."), erased_value(path, get_path(payload, path)))
    return payload


IN_PROCESS: dict[str, httpx2.AsyncBaseTransport] = {}
"""Base URL → transport, for a whole system run in one process (the end-to-end tests register
ticket-api's ASGI app here); empty in a deployment, where keys travel over HTTP."""


@dataclass
class KeyClient:
    """A consumer's way to data keys: ticket-api's ``GET /v1/personal-data/keys/{id}`` with
    the service's credential, answers cached briefly (a key erased meanwhile still opens
    events for at most ``cache_seconds`` — ADR 23).

    410 means erased (``None``); 404 a key never issued (``UnknownKey``); anything else, or no
    answer, ``KeysUnavailable``, so the event is retried rather than read as erased.
    """

    base_url: str
    credential: str
    cache_seconds: float = 60.0
    timeout: float = 5.0
    transport: httpx2.AsyncBaseTransport | None = None
    _cache: dict[str, tuple[float, bytes | None]] = field(default_factory=dict)
    _client: httpx2.AsyncClient | None = None

    async def key(self, key_id: str) -> bytes | None:
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        if self._client is None:
            self._client = httpx2.AsyncClient(
                base_url=self.base_url,
                timeout=self.timeout,
                transport=self.transport or IN_PROCESS.get(self.base_url),
            )
        try:
            answer = await self._client.get(
                f"/v1/personal-data/keys/{key_id}",
                headers={"Authorization": f"Bearer {self.credential}"},
            )
        except httpx2.HTTPError as exc:
            raise KeysUnavailable(f"ticket-api: {exc!r}") from exc
        key: bytes | None
        if answer.status_code == 200:
            key = base64.b64decode(answer.json()["key"])
        elif answer.status_code == 410:
            key = None
        elif answer.status_code == 404:
            raise UnknownKey(key_id)
        else:
            raise KeysUnavailable(f"ticket-api answered {answer.status_code}")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_id] = (now + self.cache_seconds, key)
        return key

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class KeySource(Protocol):
    """Where an unsealer gets data keys: ``KeyClient`` over HTTP, or ticket-api's own ring."""

    async def key(self, key_id: str) -> bytes | None: ...


class Unsealer:
    """Opens a CloudEvent's sealed data before the consumer toolkit reads it."""

    def __init__(self, keys: KeySource) -> None:
        self.keys = keys

    async def __call__(self, event: CloudEvent) -> CloudEvent:
        key_id = sealed_key(event.data)
        if key_id is None:
            return event
        key = await self.keys.key(key_id)
        try:
            data = unseal(event.data, key)
        except InvalidTag as exc:
            raise ValueError(f"sealed data of {event.id} does not open with its key") from exc
        return event.model_copy(update={"data": data})


def as_erased(event: CloudEvent) -> CloudEvent:
    """The event with its sealed fields read as erased, no key asked for: for readers that
    need no personal data (the simulator's figures, benchmarks counting messages)."""
    if sealed_key(event.data) is None:
        return event
    return event.model_copy(update={"data": unseal(event.data, None)})


async def without_keys(event: CloudEvent) -> CloudEvent:
    """``as_erased`` as a consumer toolkit ``unseal``."""
    return as_erased(event)
