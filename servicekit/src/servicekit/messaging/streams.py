"""The JetStream streams, created or brought up to date idempotently at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from contracts.events.envelope import STREAM_SUBJECTS


@dataclass(frozen=True)
class StreamSettings:
    """How the event streams are kept; R3 and longer retention in production."""

    replicas: int = 1
    max_age: timedelta = timedelta(days=30)
    duplicate_window: timedelta = timedelta(minutes=10)
    """A re-publish within this window (same ``Nats-Msg-Id``) is dropped by JetStream."""
    storage: StorageType = StorageType.FILE

    def config(self, name: str) -> StreamConfig:
        return StreamConfig(
            name=name,
            subjects=[STREAM_SUBJECTS[name]],
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            storage=self.storage,
            num_replicas=self.replicas,
            max_age=self.max_age.total_seconds(),
            duplicate_window=self.duplicate_window.total_seconds(),
        )


async def ensure_stream(js: JetStreamContext, name: str, settings: StreamSettings) -> None:
    """Create the stream, or update it to ``settings`` if it exists (safe to run on every start)."""
    config = settings.config(name)
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)
