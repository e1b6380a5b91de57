"""``supportdesk-report --from … --to …``: the SLA report of a period of real or simulated history.

Reads the ``TICKETS`` and ``SLA`` streams from NATS (every event up to the end: the earlier
ones give the backlog its start) and the notifier's delivery log over its API (a staff key),
then writes ``var/reports/<run>/``. The figures are ``simulator.figures``'s, whatever made
the events.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import nats

from contracts.events import SLA_STREAM, TICKETS_STREAM, from_wire
from contracts.policy import load_policies
from servicekit.messaging import servers
from servicekit.personal_data import as_erased
from simulator.figures import Fact, figures
from simulator.report import write


async def stream_facts(nats_url: str, end: datetime) -> list[Fact]:
    """Every event of both streams with an event time before ``end``."""
    nc = await nats.connect(servers=servers(nats_url))
    facts: list[Fact] = []
    try:
        js = nc.jetstream()
        for stream in (TICKETS_STREAM, SLA_STREAM):
            last = (await js.stream_info(stream)).state.last_seq
            if not last:
                continue
            sub = await js.subscribe(f"{stream.lower()}.>", ordered_consumer=True)
            try:
                while True:
                    msg = await sub.next_msg(timeout=10)
                    event = as_erased(from_wire(msg.data))  # figures need no personal data
                    if event.time < end:
                        facts.append(Fact.of(event))
                    if msg.metadata.sequence.stream >= last:
                        break
            finally:
                await sub.unsubscribe()
    finally:
        await nc.close()
    return facts


def deliveries(notifier_url: str, staff_key: str) -> list[dict[str, Any]]:
    """The notifier's whole delivery log (channel and creation time are what is used)."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    with httpx2.Client(base_url=notifier_url, timeout=30) as http:
        while True:
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            page = http.get(
                "/v1/deliveries", params=params, headers={"Authorization": f"Bearer {staff_key}"}
            )
            page.raise_for_status()
            body = page.json()
            rows.extend(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return rows


def office_zones(policies_dir: Path) -> dict[str, ZoneInfo]:
    """Each policy's office zone: breaches are shown at the desk's local weekday and hour."""
    return {
        pid: ZoneInfo(p.calendars[p.business_calendar].time_zone)
        for pid, p in load_policies(policies_dir).items()
    }


def write_report(
    reports: str,
    run: str,
    start: datetime,
    end: datetime,
    *,
    nats_url: str,
    notifier_url: str,
    staff_key: str,
    policies_dir: Path = Path("policies"),
) -> Path:
    facts = asyncio.run(stream_facts(nats_url, end))
    figs = figures(
        facts, deliveries(notifier_url, staff_key), office_zones(policies_dir), start, end
    )
    folder = Path(reports) / run
    write(folder, run, figs)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The SLA report of a period.")
    parser.add_argument("--from", dest="start", type=datetime.fromisoformat, required=True)
    parser.add_argument("--to", dest="end", type=datetime.fromisoformat, required=True)
    parser.add_argument("--run", help="the report's folder name (default: from_to)")
    parser.add_argument("--reports", default="var/reports")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--notifier-url", default="http://127.0.0.1:8002")
    parser.add_argument("--staff-key", default="dev-supervisor")
    parser.add_argument("--policies", type=Path, default=Path("policies"))
    args = parser.parse_args(argv)
    for value in (args.start, args.end):
        if value.tzinfo is None:
            parser.error("give instants with their offset, e.g. 2026-11-02T00:00Z")
    run = args.run or f"{args.start:%Y%m%d}-{args.end:%Y%m%d}"
    folder = write_report(
        args.reports,
        run,
        args.start,
        args.end,
        nats_url=args.nats,
        notifier_url=args.notifier_url,
        staff_key=args.staff_key,
        policies_dir=args.policies,
    )
    print(f"report: {folder}/index.html")


if __name__ == "__main__":
    main()
