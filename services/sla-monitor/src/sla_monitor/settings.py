"""sla-monitor's configuration, read from the environment in this one place.

``SLA_MONITOR_*`` variables for the service itself; the database is reached with the same
``POSTGRES_*`` variables as ticket-api's event store (no prefix), so one set-up serves both.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from servicekit.messaging.database import PostgresSettings


class Settings(PostgresSettings):
    """``SLA_MONITOR_*`` variables, plus the ``POSTGRES_*`` ones of the database."""

    model_config = SettingsConfigDict(env_prefix="SLA_MONITOR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    policies_dir: Path = Path("policies")
    nats_url: str | None = None
    """NATS with JetStream: when set, the projection consumer and the timer loop run in-process;
    unset, the service only serves what is already in the database."""
    timer_poll_seconds: float = 0.5
    simulated_clock: bool = False
    """Read time from the clock shared through NATS (demos, acceptance runs); needs nats_url."""
    ticket_api_url: str | None = None
    """ticket-api (e.g. ``http://127.0.0.1:8000``): where escalations, abandonment and expiry
    are sent, and who checks every reader's credential and tenant scope (ADR 0014). Unset,
    those timers wait, only SLA events are published and every read answers 503."""
    ticket_api_key: str = "dev-service"
    """sla-monitor's service key at ticket-api."""
    principal_cache_seconds: float = 5.0
    """How long ticket-api's answer about a credential is reused: a revoked key or a
    deactivated contact is shut out within this time."""
    principal_timeout_seconds: float = 2.0
    """At most this long waiting for ticket-api to check a credential (then 503)."""
    stream_poll_seconds: float = 1.0
    """How often ``/v1/sla/stream`` looks for changed clocks."""
    stream_keepalive_seconds: float = 15.0
    stream_overlap_seconds: float = 300.0
    """How far back (in event time) each poll of the stream looks again, so a clock written
    late with an earlier event time is still sent; repeats are filtered out."""
    page_size_cap: int = 200
    board_secret: SecretStr | None = None
    """Signs the board's sign-in CSRF cookie (HMAC-SHA256). Unset, a random key per process: a
    sign-in form opened before a restart or on another replica is refused once. Sessions live
    in the database (ADR 0021) and need no secret."""
    board_cookie_secure: bool = False
    """Mark the board's cookies ``Secure`` (production, behind HTTPS); off for make run."""
    board_session_hours: float = 12.0
    """How long a board sign-in lasts (a shift); each page re-checks the credential anyway."""
    board_page_size: int = 100
    """Rows of the queue's first page (the rest are counted, and reached by the filters)."""
