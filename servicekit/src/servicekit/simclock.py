"""A simulated clock shared by every service through a NATS key-value bucket.

For demos and acceptance runs: start the system at a given instant, then set or advance time
(``uv run supportdesk-clock set 2026-11-27T17:30-06:00``, ``... advance 3h``), and timers fire as
simulated time passes their due instant. Off unless a service is told to use it
(``*_SIMULATED_CLOCK=true``); the real clock otherwise.

The simulated instant is frozen between changes: tests and demos decide when time moves.
Each service keeps the latest value from a key watcher, so ``now()`` is a plain read (safe
from request threads) and every service sees the same instant.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
from datetime import UTC, datetime, timedelta

import nats
from nats.aio.client import Client as NatsClient
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from contracts.policy.durations import parse_span
from servicekit.clock import Clock, SystemClock
from servicekit.messaging import servers

BUCKET = "supportdesk_clock"
KEY = "now"


async def _bucket(js: nats.js.JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=BUCKET, history=1))


class SharedClock:
    """``Clock`` whose time is the value in the shared bucket (set by ``supportdesk-clock``)."""

    def __init__(self, url: str, start: datetime | None = None) -> None:
        self.url = url
        self._now = (start or datetime.now(UTC)).astimezone(UTC)
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._seen = asyncio.Condition()
        self._nc: NatsClient | None = None

    def now(self) -> datetime:
        with self._lock:
            return self._now

    async def start(self) -> None:
        """Read the shared instant (creating it from ``start`` if unset) and follow changes."""
        self._nc = await nats.connect(servers=servers(self.url))
        kv = await _bucket(self._nc.jetstream())
        try:
            entry = await kv.get(KEY)
            self._set(entry.value)
        except KeyNotFoundError:
            await kv.put(KEY, self.now().isoformat().encode())
        watcher = await kv.watch(KEY)
        self._task = asyncio.create_task(self._follow(watcher))

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is not None and entry.value:
                self._set(entry.value)
                async with self._seen:
                    self._seen.notify_all()

    async def reaches(self, instant: datetime) -> None:
        """Wait until this service's view of simulated time is at least ``instant``."""
        async with self._seen:
            await self._seen.wait_for(lambda: self.now() >= instant)

    def _set(self, raw: bytes | None) -> None:
        if raw:
            with self._lock:
                self._now = datetime.fromisoformat(raw.decode()).astimezone(UTC)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._nc is not None:
            await self._nc.close()


async def set_shared_time(
    url: str, *, to: datetime | None = None, advance: timedelta | None = None
) -> datetime:
    """Set or advance the shared simulated instant; returns the new one."""
    nc = await nats.connect(servers=servers(url))
    try:
        kv = await _bucket(nc.jetstream())
        try:
            current = datetime.fromisoformat((await kv.get(KEY)).value.decode())  # type: ignore[union-attr]
        except KeyNotFoundError:
            current = datetime.now(UTC)
        new = to if to is not None else current + (advance or timedelta(0))
        if new.tzinfo is None:
            raise ValueError("give the instant with its offset, e.g. 2026-11-27T17:30-06:00")
        await kv.put(KEY, new.astimezone(UTC).isoformat().encode())
        return new.astimezone(UTC)
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Set or advance the shared simulated clock.")
    parser.add_argument("--url", default="nats://127.0.0.1:4222")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("show")
    setting = sub.add_parser("set")
    setting.add_argument("instant", help="ISO 8601 with offset, e.g. 2026-11-27T17:30-06:00")
    advancing = sub.add_parser("advance")
    advancing.add_argument("span", help="e.g. 3h, 1h30m, 7d")
    args = parser.parse_args(argv)
    if args.action == "set":
        new = asyncio.run(set_shared_time(args.url, to=datetime.fromisoformat(args.instant)))
    elif args.action == "advance":
        span = parse_span(args.span)
        if span.is_business_days:
            parser.error("advance takes elapsed time (m, h, d), not business days")
        new = asyncio.run(set_shared_time(args.url, advance=span.fixed))
    else:
        new = asyncio.run(set_shared_time(args.url, advance=timedelta(0)))
    print(f"simulated time: {new.isoformat()}")


if __name__ == "__main__":
    main()


def service_clock(
    clock: Clock | None, *, simulated: bool, nats_url: str | None, prefix: str
) -> tuple[Clock, SharedClock | None]:
    """The clock a service runs on: the one given (tests), the shared simulated one when
    ``<PREFIX>_SIMULATED_CLOCK`` is set (it needs NATS), else the system's. The second value is
    the shared clock to start and stop with the service, if that is the one."""
    if clock is not None:
        return clock, None
    if simulated:
        if not nats_url:
            raise ValueError(f"{prefix}_SIMULATED_CLOCK needs {prefix}_NATS_URL")
        shared = SharedClock(nats_url)
        return shared, shared
    return SystemClock(), None
