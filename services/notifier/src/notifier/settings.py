"""The notifier's configuration, read from the environment in this one place.

``NOTIFIER_*`` variables for the service itself; the delivery log's database is reached with
the same ``POSTGRES_*`` variables as the other services. Addresses that are not part of a
policy — agents' mailboxes, chat webhook URLs, integrations' webhooks and their secrets — live
in the destinations file (``NOTIFIER_DESTINATIONS_FILE``), which is deployment data and secret.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from servicekit.messaging.database import PostgresSettings


class Settings(PostgresSettings):
    """``NOTIFIER_*`` variables, plus the ``POSTGRES_*`` ones of the database."""

    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8002
    policies_dir: Path = Path("policies")
    destinations_file: Path | None = None
    """YAML with agents, chat webhooks and integrations (see README); empty: none."""
    templates_dir: Path | None = None
    """Overrides of the message templates: ``<dir>/<policy id>/<locale>/<kind>.txt`` first,
    then ``<dir>/<locale>/<kind>.txt``, then the built-in ones."""
    nats_url: str | None = None
    """NATS with JetStream: when set, the consumers and the dispatcher run in-process."""
    simulated_clock: bool = False
    """Read time from the clock shared through NATS (demos); needs nats_url."""

    stale_after_seconds: float = 86400.0
    """Events older than this (by their time, on the service's clock) are logged, not sent:
    a notifier deployed on a month of history must not mail customers about last month."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    """``starttls`` (port 587) or implicit ``tls`` (port 465) in production."""
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 15.0
    mail_from: str = "Mesa de soporte <soporte@supportdesk.local>"
    message_id_domain: str = "supportdesk.local"
    """Right-hand side of the stable ``Message-ID`` of each message."""

    sms_api_url: str | None = None
    """A Twilio-compatible Messages API (``https://api.twilio.com``); empty: SMS and WhatsApp
    deliveries are dead-lettered as not configured."""
    sms_account: str = ""
    sms_token: SecretStr = SecretStr("")
    sms_from: str = ""
    whatsapp_from: str = ""
    http_timeout_seconds: float = 10.0

    max_attempts: int = 8
    """Transient failures are retried this many times in all, then dead-lettered."""
    retry_base_seconds: float = 30.0
    retry_cap_seconds: float = 3600.0
    claim_seconds: float = 120.0
    """A claimed delivery is retried by another worker if not settled within this time."""
    dispatch_batch: int = 50
    dispatch_poll_seconds: float = 1.0
    rate_limits: dict[str, float] = {
        "email": 20.0,
        "webhook": 50.0,
        "chat": 1.0,
        "sms": 5.0,
        "whatsapp": 5.0,
    }
    """Messages per second per channel (Slack allows about one per second per webhook)."""

    page_size_cap: int = 200
    ticket_api_url: str | None = None
    """ticket-api (e.g. ``http://127.0.0.1:8000``), which checks every reader's credential
    and tenant scope (ADR 0014); unset, the delivery log answers 503."""
    ticket_api_key: str = "dev-service"
    """The notifier's service key at ticket-api: it fetches the data keys that open the
    personal data of the events it consumes (ADR 23)."""
    dev_maildir: Path | None = None
    """Development only: the Maildir of the local mail sink (``make run``: ``var/mail``); an
    erasure deletes its mails about the ticket, as nothing can recall real mail."""
    principal_cache_seconds: float = 5.0
    """How long ticket-api's answer about a credential is reused: a revoked key or a
    deactivated staff member is shut out within this time."""
    principal_timeout_seconds: float = 2.0
    """At most this long waiting for ticket-api to check a credential (then 503)."""

    webhook_master_key: SecretStr | None = None
    """Fernet key(s), comma-separated, newest first: subscription secrets are stored
    encrypted with them. Unset: stored as they are (say so in production reviews; ADR 20)."""
    webhook_allow_http: bool = False
    """Accept ``http://`` subscription URLs (``make run``: local receivers). Production: off."""
    webhook_allow_private: bool = False
    """Accept subscription URLs resolving to loopback, private or link-local addresses
    (``make run``, tests). Production: off, so nobody points us at our own network."""
    webhook_rotation_overlap_seconds: float = 86400.0
    """After a secret rotation, the old secret signs too for this long (default 24 h)."""
    webhook_pause_after_failures: int = 10
    """A subscription whose deliveries fail this many times in a row is paused."""

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value
