"""Where people and systems outside the policy files are reached: the destinations file.

A policy names audiences and groups (with their team mailboxes); a deployment knows the rest:
each agent's mailbox, phone and chat, the chat webhooks behind a group's ``chat`` name, and the
integrations that receive signed webhooks. Those are addresses and secrets, so they live in a
file of their own (mounted from a secret in production), validated at start-up.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, StringConstraints

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[0-9]{7,15}$")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Agent(_Spec):
    """An agent or supervisor as the notifier reaches them."""

    name: str | None = None
    email: Email | None = None
    phone: Phone | None = None
    chat: str | None = None
    """Name of a chat destination (a direct-message webhook)."""
    locale: Literal["es", "en"] | None = None
    time_zone: str | None = None


class ChatDestination(_Spec):
    """An incoming-webhook URL of Slack or Microsoft Teams (or any JSON ``{"text"}`` hook)."""

    kind: Literal["slack", "teams"] = "slack"
    url: HttpUrl


class Integration(_Spec):
    """A system that receives the events as signed webhooks (Standard Webhooks scheme)."""

    url: HttpUrl
    secret: SecretStr
    """``whsec_`` + base64 of the signing key, as Standard Webhooks libraries expect."""
    tenants: list[str] = []
    """Only these tenants' tickets; empty: every tenant."""
    events: list[str] = []
    """Only these events (``ticket.opened``, ``sla.*``); empty: whatever the policy routes."""
    customer_facing: bool = True
    """A customer's system: it never receives internal notes or internal replies."""

    def signing_key(self) -> bytes:
        return signing_key(self.secret.get_secret_value())

    def wants(self, tenant: str, event_name: str) -> bool:
        if self.tenants and tenant not in self.tenants:
            return False
        family = event_name.split(".")[0] + ".*"
        return not self.events or event_name in self.events or family in self.events


def signing_key(secret: str) -> bytes:
    """The key inside a ``whsec_…`` secret; ValueError when it is not one."""
    if not secret.startswith("whsec_"):
        raise ValueError("webhook secrets look like 'whsec_<base64>' (Standard Webhooks)")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error as exc:
        raise ValueError("the part after 'whsec_' must be base64") from exc
    if len(key) < 24:
        raise ValueError("a webhook signing key needs at least 24 bytes")
    return key


class Destinations(_Spec):
    agents: dict[str, Agent] = {}
    chat: dict[str, ChatDestination] = {}
    integrations: dict[str, Integration] = Field(default_factory=dict)

    def agent(self, agent_id: str) -> Agent | None:
        """The agent's entry; an agent whose id is an address is reached there."""
        if agent_id in self.agents:
            return self.agents[agent_id]
        if "@" in agent_id:
            return Agent(email=agent_id)
        return None


def load_destinations(path: Path | None) -> Destinations:
    """Read and validate the destinations file (none: nobody outside the policies)."""
    if path is None:
        return Destinations()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    destinations = Destinations.model_validate(data)
    for name, integration in destinations.integrations.items():
        try:
            integration.signing_key()
        except ValueError as exc:
            raise ValueError(f"{path}: integrations.{name}.secret: {exc}") from exc
    return destinations
