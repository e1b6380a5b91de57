"""ticket-api's configuration, read from the environment in this one place.

Every variable is documented in the README (section "Configuration"). Defaults give the
embedded set-up of ``make run``: SQLite under ``var/``, policies from ``policies/``, loopback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ticket_api import event_store

DEV_PRINCIPALS: dict[str, dict[str, str]] = {
    "dev-customer": {
        "kind": "customer",
        "id": "contact-ana",
        "name": "Ana Ruiz",
        "tenant": "acme",
        "email": "ana@acme.example",
        "locale": "es",
    },
    "dev-agent": {"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"},
    "dev-supervisor": {"kind": "supervisor", "id": "sup-marco", "name": "Marco Díaz"},
    "dev-service": {"kind": "service", "id": "sla-monitor", "name": "sla-monitor"},
    "dev-admin": {"kind": "admin", "id": "admin-ops", "name": "Operaciones"},
}
"""One development key per role, for the development directory ``make run`` seeds (README)."""


class Settings(BaseSettings):
    """``TICKET_API_*`` variables, plus the ``POSTGRES_*`` ones of the event store."""

    model_config = SettingsConfigDict(env_prefix="TICKET_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    policies_dir: Path = Path("policies")
    data_dir: Path = Path("var/ticket-api")
    store: Literal["sqlite", "postgres"] = "sqlite"
    """Event store: the embedded SQLite file, or PostgreSQL (``POSTGRES_*`` variables)."""
    postgres_connect_timeout: int = 1
    """Seconds to wait for a database connection before answering 503 (library default: 30)."""
    max_concurrent_requests: int = Field(default=8, ge=1, le=32)
    """Requests in progress at once; more wait for a place (ADR 15). A process spends its time
    in Python under one interpreter lock, so past a handful more in progress only lengthens each
    (8 keeps the peak rate measured at 4 with room for waits on the database). At most 32:
    sync endpoints run on Starlette's pool of 40 threads, which must keep room for health
    checks."""
    queue_timeout_seconds: float = Field(default=0.25, ge=0)
    """How long a request beyond the limit waits for a place before a 503 ``overloaded``."""
    case_number_wait_seconds: float = Field(default=0.5, gt=0)
    """How long an open waits for its policy's turn to take the next case number before a
    fast 503 ``case-numbers-busy`` (with the queue's wait: answered within a second)."""
    nats_url: str | None = None
    """NATS with JetStream for the outbox relay (``make run``: the embedded nats-server);
    unset, ticket-api runs without publishing and the relay catches up once it is set."""
    simulated_clock: bool = False
    """Read time from the clock shared through NATS (demos, acceptance runs); needs nats_url."""
    stream_replicas: int = 1
    """JetStream replicas of the TICKETS and SLA streams (3 on a production cluster)."""
    stream_max_age_days: float = 30.0
    stream_duplicate_window_minutes: float = 10.0
    """How long JetStream remembers a Nats-Msg-Id: re-publishes within it are dropped."""
    max_body_bytes: int = 1_048_576
    email_max_bytes: int = 26_214_400
    """A raw email (with its attachments) may be this large (25 MiB, a common MTA limit)."""
    email_max_depth: int = 10
    """Levels of MIME nesting in one email (mixed → related → alternative → text is 3). This
    and the ``email_max_*`` below bound what a message may ask of the parser beyond its size
    (``email_limits`` says why); a message past any of them is refused whole, nothing kept."""
    email_max_parts: int = 100
    email_max_attachments: int = 20
    email_max_headers: int = 500
    """Fields in one header section (the message's, or one part's)."""
    email_max_header_bytes: int = 16_384
    """One header field with its folded lines: room for 100 addresses with display names."""
    email_max_addresses: int = 100
    """Addresses in one address field (``To``, ``Cc``, ``From``...)."""
    email_max_recipients: int = 200
    """Addresses in ``To``, ``Cc`` and ``Delivered-To`` together."""
    email_max_subject_chars: int = 1_000
    """A longer subject is refused; within it, the title keeps the first 300 characters."""
    email_max_body_chars: int = 200_000
    """The text (or HTML) part as decoded; the ticket keeps its first 20,000 characters. Bounds
    the HTML-to-text conversion (about 2 s per MB)."""
    attachment_max_bytes: int = 10_485_760
    attachment_types: list[str] = [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "text/xml",
        "application/xml",
        "application/zip",
        "application/json",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/msword",
        "application/vnd.ms-excel",
    ]
    """Media types accepted as attachments (evidence screenshots, XML invoices, logs...)."""
    attachments_dir: Path | None = None
    """Where attachment contents are kept; empty: ``<data_dir>/attachments``."""
    email_default_policy: str | None = None
    """The policy of a new request by email when neither the address it was sent to (a
    policy's email channel) nor the sender's organization (one contracted policy) says."""
    smtp_intake_port: int | None = None
    """Also listen for mail on this port (127.0.0.1; ``make run``: 2525); requests by email
    from registered contacts become tickets."""
    page_size_cap: int = 200
    oidc_issuer: str | None = None
    """OIDC bearer tokens: the issuer (``iss``) tokens must name; with ``oidc_jwks_url``."""
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    """Where the issuer publishes its signing keys (JWKS); unset, tokens are not accepted."""
    oidc_jwks_refresh_cooldown_seconds: float = 30.0
    """An unknown ``kid`` refetches the JWKS (key rotation), at most this often."""
    oidc_algorithms: list[str] = ["RS256", "ES256"]
    oidc_roles_claim: str = "roles"
    """Claim with the caller's roles: customer, agent, supervisor, admin or service."""
    oidc_email_claim: str = "email"
    """Claim naming a customer: the email of a registered contact."""
    rate_limit: str = "600/minute"
    """Requests per principal (``limits`` notation: ``100/second``, ``600/minute``)."""
    failed_auth_rate_limit: str = "30/minute"
    """Failed authentications per client address before it is told to wait."""
    dev_mode: bool = False
    """Accept the development keys of ``DEV_PRINCIPALS`` (``make run`` turns this on)."""
    dev_keys: dict[str, dict[str, str]] = Field(default_factory=dict)
    """JSON object: API key → principal (kind, id, name, tenant for customers)."""

    master_key: SecretStr | None = None
    """The master key wrapping the data keys of personal data (ADR 23): 32 random bytes in
    base64. Unset, a public development key is used (and a warning logged at every start):
    set it in every real deployment. Lose it and ticket-api refuses to start on that store."""
    retention_interval_seconds: float = Field(default=3600.0, ge=0)
    """How often closed tickets past their policy's ``personal_data_retention`` are erased;
    0 turns the job off (then run ``ticket-api-retention`` from a scheduler)."""

    @model_validator(mode="after")
    def _development_keys(self) -> Settings:
        if self.dev_mode and not self.dev_keys:
            self.dev_keys = dict(DEV_PRINCIPALS)
        return self

    @field_validator("dev_keys", "oidc_algorithms", "attachment_types", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @staticmethod
    def _cache_env() -> dict[str, str]:
        """Keep recently used tickets in memory; fast-forward reads only their new events from
        the store, so replicas never act on a stale copy."""
        return {"AGGREGATE_CACHE_MAXSIZE": "10000", "AGGREGATE_CACHE_FASTFORWARD": "y"}

    def _master_key_env(self) -> dict[str, str]:
        return (
            {"TICKET_API_MASTER_KEY": self.master_key.get_secret_value()} if self.master_key else {}
        )

    def event_store_env(self, environ: dict[str, str]) -> dict[str, str]:
        """The ``eventsourcing`` library's persistence settings for the chosen store."""
        if self.store == "postgres":
            env = {k: v for k, v in environ.items() if k.startswith("POSTGRES_")}
            env["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
            env.update(self._master_key_env())
            env.setdefault("POSTGRES_CONNECT_TIMEOUT", str(self.postgres_connect_timeout))
            env.setdefault("POSTGRES_PRE_PING", "y")  # drop dead pooled connections first
            # One try per call, connect and statement timeouts: an outage is a 503 in about a
            # second, not after the library's ten retries (ADR 15).
            env.setdefault("APPLICATION_RECORDER_TOPIC", event_store.TOPIC)
            # Enough connections for every admitted request, plus the relay, the ticket list's
            # worker and one held per policy while an open takes its turn; a thread beyond
            # that is refused at once rather than queued.
            connections = self.max_concurrent_requests + 8
            env.setdefault("POSTGRES_POOL_SIZE", "5")
            env.setdefault(
                "POSTGRES_MAX_OVERFLOW", str(connections - int(env["POSTGRES_POOL_SIZE"]))
            )
            env.setdefault("POSTGRES_MAX_WAITING", str(self.max_concurrent_requests))
            missing = [
                k
                for k in ("POSTGRES_DBNAME", "POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD")
                if not env.get(k)
            ]
            if missing:
                raise ValueError(f"TICKET_API_STORE=postgres needs {', '.join(missing)}")
            return env
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return {
            **self._master_key_env(),
            **self._cache_env(),
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(self.data_dir / "tickets.sqlite3"),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
