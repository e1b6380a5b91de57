"""What the benchmarks in ``bench/`` share: the throw-away servers, CPU accounting, percentiles.

Lives beside the test helpers it wraps because ``bench/`` cannot be on ``sys.path`` while a
benchmark runs (``bench/calendar.py`` would shadow the standard library's ``calendar``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import math
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

T = TypeVar("T")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class NatsServerLike(Protocol):
    @property
    def url(self) -> str: ...

    @property
    def pid(self) -> int | None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class PostgresHelpers(Protocol):
    def running_postgres(self) -> AbstractContextManager[dict[str, str]]: ...

    def fresh_database(self, env: Mapping[str, str], name: str) -> dict[str, str]: ...


def postgres_helpers() -> PostgresHelpers:
    return cast(PostgresHelpers, importlib.import_module("postgres"))


@contextlib.contextmanager
def nats_server(store_dir: Path) -> Iterator[NatsServerLike]:
    """A fresh nats-server with JetStream, stopped however the block ends."""
    factory = cast(
        Callable[[Path], NatsServerLike], importlib.import_module("nats_server").NatsServer
    )
    server = factory(store_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def ticks(pid: int) -> int:
    """User + system CPU ticks of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def process_tree(pid: int) -> list[int]:
    """The process and its descendants."""
    found = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found.extend(process_tree(int(child)))
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def postmaster(port: str) -> int | None:
    """The PostgreSQL server listening on ``port`` (its backends are its children)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if argv[0].endswith(b"/postgres") and f"-p {port}".encode() in b" ".join(argv):
                return int(entry.name)
    return None


class CpuMeter:
    """CPU used over a phase by named parties (each a function listing its pids) and others.

    A thread samples the parties' processes twice a second, so processes that come and go
    meanwhile (a pool's replaced connection and its PostgreSQL backend) are counted up to
    their last sample.
    """

    def __init__(self, parties: Mapping[str, Callable[[], Sequence[int]]]) -> None:
        self.parties = parties
        self.wall = time.perf_counter()
        self.start = {pid: ticks(pid) for pids in parties.values() for pid in pids()}
        self.machine = machine_ticks()
        self.seen: dict[str, dict[int, int]] = {name: {} for name in parties}
        self._stopping = threading.Event()
        self._sampler = threading.Thread(target=self._sample_until_stopped, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        for name, pids in self.parties.items():
            seen = self.seen[name]
            for pid in pids():
                seen[pid] = max(seen.get(pid, 0), ticks(pid))

    def _sample_until_stopped(self) -> None:
        while not self._stopping.wait(0.5):
            self._sample()

    def report(self) -> str:
        self._stopping.set()
        self._sampler.join()
        self._sample()
        wall = time.perf_counter() - self.wall
        busy, total = (now - then for now, then in zip(machine_ticks(), self.machine, strict=True))
        cores = os.cpu_count() or 1
        parts, ours = [], 0.0
        for name, seen in self.seen.items():
            ticks = sum(max(0, t - self.start.get(p, 0)) for p, t in seen.items())
            used = ticks / CLOCK_TICKS
            ours += used
            parts.append(f"{name} {used / wall:.0%}")
        machine = busy / max(total, 1) * cores
        parts.append(f"everything else {max(0.0, machine - ours / wall):.0%}")
        return f"CPU (100% = 1 core; machine {machine:.0%} of {cores}): " + ", ".join(parts)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop if installed (uvicorn[standard] serves sla-monitor on it), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"
