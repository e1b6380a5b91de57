"""Where every service reads the time: an injectable clock.

Deadlines, timers and event timestamps all ask a ``Clock``; production uses ``SystemClock``,
tests and demos a ``ManualClock`` they set and advance, so a month of support traffic runs in
seconds and every test is deterministic.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """Time that moves only when told to; safe to share between threads."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the clock is set to aware instants only")
        with self._lock:
            self._now = instant.astimezone(UTC)

    def advance(self, by: timedelta) -> datetime:
        if by < timedelta(0):
            raise ValueError("time does not run backwards")
        with self._lock:
            self._now += by
            return self._now
