"""``supportdesk-whatif --policy candidate.yaml --from … --to …``: a policy change tried on history.

Reads, read-only, the stored events (``sla_ticket_events``) of the tickets of the candidate's
policy opened in the period from sla-monitor's PostgreSQL (the ``POSTGRES_*`` variables, as
sla-monitor), replays them under the live policies and under the candidate
(``simulator.whatif``) and writes ``whatif-<policy>/`` beside the period's report: an HTML page
with compliance then and under the candidate per priority, each changed ticket with its two
receipts, and ``whatif.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from contracts.policy import load_policies, load_policy
from simulator.report import TEMPLATES
from simulator.whatif import WhatIf, what_if
from sla_monitor.settings import Settings

QUERY = """
SELECT e.ticket_id, e.version, e.name, e.payload, e.at, e.policy, e.tenant
FROM sla_ticket_events e
WHERE e.policy = $1 AND e.at < $3 AND e.ticket_id IN (
    SELECT ticket_id FROM sla_ticket_events
    WHERE name = 'ticket.opened' AND at >= $2 AND at < $3)
ORDER BY e.ticket_id, e.version
"""


async def histories(policy: str, start: datetime, end: datetime) -> dict[str, list[dict[str, Any]]]:
    settings = Settings()
    kwargs = {k: v for k, v in settings.pool_kwargs().items() if k not in ("min_size", "max_size")}
    conn = await asyncpg.connect(**kwargs)
    try:
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        async with conn.transaction(readonly=True):
            for row in await conn.fetch(QUERY, policy, start, end):
                out[str(row["ticket_id"])].append(dict(row))
        return dict(out)
    finally:
        await conn.close()


def summary(result: WhatIf) -> list[tuple[str, str, str]]:
    def share(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    priorities = sorted({p for p, _ in result.before} | {p for p, _ in result.after})
    rows = [
        (p, share(result.compliance(result.before, p)), share(result.compliance(result.after, p)))
        for p in priorities
    ]
    rows.append(
        ("all", share(result.compliance(result.before)), share(result.compliance(result.after)))
    )
    return rows


def write(folder: Path, result: WhatIf, candidate: str, start: datetime, end: datetime) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = summary(result)
    (folder / "whatif.json").write_text(
        json.dumps(
            {
                "policy": result.policy,
                "candidate": candidate,
                "tickets": result.tickets,
                "compliance": [{"priority": p, "now": a, "candidate": b} for p, a, b in rows],
                "changes": [
                    {
                        "ticket": c.ticket,
                        "case_number": c.case_number,
                        "priority": c.priority,
                        "clocks": {
                            k: {"now": a, "candidate": b} for k, (a, b) in c.changed.items()
                        },
                    }
                    for c in result.changes
                ],
            },
            indent=1,
            ensure_ascii=False,
        )
    )
    page = folder / "index.html"
    page.write_text(
        TEMPLATES.get_template("whatif.html").render(
            result=result, candidate=candidate, start=start, end=end, rows=rows
        )
    )
    return page


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Replay a period under a candidate policy.")
    parser.add_argument("--policy", type=Path, required=True, help="the candidate policy file")
    parser.add_argument("--from", dest="start", type=datetime.fromisoformat, required=True)
    parser.add_argument("--to", dest="end", type=datetime.fromisoformat, required=True)
    parser.add_argument("--policies", type=Path, default=Path("policies"), help="the live ones")
    parser.add_argument("--reports", default="var/reports")
    parser.add_argument("--run", help="the report folder to write beside (default: from_to)")
    args = parser.parse_args(argv)
    candidate = load_policy(args.policy)
    live = load_policies(args.policies)
    rows = asyncio.run(histories(candidate.id, args.start, args.end))
    result = what_if(live, candidate, rows, args.end)
    run = args.run or f"{args.start:%Y%m%d}-{args.end:%Y%m%d}"
    page = write(
        Path(args.reports) / run / f"whatif-{candidate.id}",
        result,
        args.policy.name,
        args.start,
        args.end,
    )
    for p, now, then in summary(result):
        print(f"  {p:<16} compliance {now:>7} → {then:>7}")
    print(f"{result.tickets} tickets replayed, {len(result.changes)} change outcome: {page}")


if __name__ == "__main__":
    main()
