"""``sla-monitor-rebuild``: recompute every ticket's SLA clocks, timers and names (case number,
title, assignee, state) from stored events.

The repair after a policy change (new targets apply to history) or a projection bug: clocks and
timers are derived data, rebuilt in one transaction from ``sla_ticket_events`` with the
policies in ``SLA_MONITOR_POLICIES_DIR``. Nothing is announced again (no SLA events), and timers
that already fired stay fired. Safe while sla-monitor runs (the rows are locked meanwhile).
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from contracts.policy import load_policies
from sla_monitor.projection import SlaProjection
from sla_monitor.settings import Settings


async def rebuild(settings: Settings) -> int:
    projection = SlaProjection(load_policies(settings.policies_dir))
    conn = await asyncpg.connect(**{k: v for k, v in settings.pool_kwargs().items()
                                    if k not in ("min_size", "max_size")})  # fmt: skip
    try:
        async with conn.transaction():
            await projection.setup(conn)
            return await projection.rebuild(conn)
    finally:
        await conn.close()


def main() -> None:
    started = time.perf_counter()
    tickets = asyncio.run(rebuild(Settings()))
    took = time.perf_counter() - started
    print(f"rebuilt the SLA clocks and timers of {tickets} tickets in {took:.1f} s")


if __name__ == "__main__":
    main()
