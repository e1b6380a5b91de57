"""NATS JetStream plumbing every service shares: streams, and the consumer toolkit.

Services never import each other; what they must do alike with the event stream lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.client import Client as NatsClient

log = logging.getLogger(__name__)


def servers(url: str) -> list[str]:
    """The NATS servers of a URL setting: one, or a cluster's as a comma-separated list
    (``nats://a:4222,nats://b:4222,nats://c:4222``), so a client reaches the cluster through
    whichever member is up."""
    return [part.strip() for part in url.split(",") if part.strip()]


async def finish(tasks: list[asyncio.Task[None]], nc: NatsClient | None) -> None:
    """Wait for a service's background tasks to wind down (they were told to stop), then close
    its NATS connection; a task that failed is logged, not raised, so shutdown completes."""
    for task in tasks:
        try:
            await asyncio.wait_for(task, timeout=30)
        except Exception:
            log.exception("background task %s ended with an error", task.get_name())
    if nc is not None:
        with contextlib.suppress(Exception):
            await nc.close()
