"""sla-monitor's configuration, read from the environment in this one place.

``SLA_MONITOR_*`` variables for the service itself; the database is reached with the same
``POSTGRES_*`` variables as ticket-api's event store (no prefix), so one set-up serves both.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from contracts.messaging.database import PostgresSettings
from contracts.web import DEV_PRINCIPALS


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
    """Where escalations, abandonment and expiry are sent (e.g. ``http://127.0.0.1:8000``);
    unset, those timers wait and only SLA events are published."""
    ticket_api_key: str = "dev-service"
    """sla-monitor's service key at ticket-api."""
    stream_poll_seconds: float = 1.0
    """How often ``/v1/sla/stream`` looks for changed clocks."""
    stream_keepalive_seconds: float = 15.0
    stream_overlap_seconds: float = 300.0
    """How far back (in event time) each poll of the stream looks again, so a clock written
    late with an earlier event time is still sent; repeats are filtered out."""
    page_size_cap: int = 200
    dev_mode: bool = False
    """Accept the development keys of ``DEV_PRINCIPALS``."""
    dev_keys: dict[str, dict[str, str]] = Field(default_factory=dict)
    """JSON object: API key → principal (kind, id, name, tenant for customers)."""

    @model_validator(mode="after")
    def _development_keys(self) -> Settings:
        if self.dev_mode and not self.dev_keys:
            self.dev_keys = dict(DEV_PRINCIPALS)
        return self

    @field_validator("dev_keys", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value
