"""``supportdesk-trace``: one ticket's traces as a waterfall, from the services' trace files.

``make run`` has every service write its spans to ``var/traces/<service>.jsonl``
(``SUPPORTDESK_TRACE_DIR``). Give a case number, a ticket id or a trace id: every trace that
mentions it — the REST call that opened it, each command, each timer that fired for it — is
printed as a tree of spans with their service, timing and a bar, and a timer's trace says which
trace armed it (its span link). ``--list`` shows the latest traces.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

WIDTH = 32


def load(directory: Path) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            spans.extend(json.loads(line) for line in lines if line.strip())
    return spans


def mentions(span: dict[str, Any], needle: str) -> bool:
    if span["trace_id"] == needle:
        return True
    return any(needle in str(value) for value in span["attributes"].values())


def traces_of(spans: list[dict[str, Any]], needle: str) -> list[str]:
    """Traces that mention ``needle``, plus the ones whose spans link to them; oldest first."""
    needle = needle.strip()
    ids = {s["trace_id"] for s in spans if mentions(s, needle)}
    for ticket_id in {
        str(s["attributes"].get("supportdesk.ticket.id"))
        for s in spans
        if s["trace_id"] in ids and s["attributes"].get("supportdesk.ticket.id")
    }:
        ids |= {s["trace_id"] for s in spans if mentions(s, ticket_id)}
    ids |= {s["trace_id"] for s in spans for link in s["links"] if link["trace_id"] in ids}
    start = {t: min(s["start"] for s in spans if s["trace_id"] == t) for t in ids}
    return sorted(ids, key=start.__getitem__)


def waterfall(spans: list[dict[str, Any]], trace_id: str) -> Iterable[str]:
    mine = sorted((s for s in spans if s["trace_id"] == trace_id), key=lambda s: s["start"])
    if not mine:
        return
    known = {s["span_id"] for s in mine}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for span in mine:
        parent = span["parent_id"] if span["parent_id"] in known else None
        children[parent].append(span)
    t0 = mine[0]["start"]
    total = max(max(s["end"] for s in mine) - t0, 1)
    services = sorted({s["service"] for s in mine})
    yield (
        f"trace {trace_id}  {len(mine)} spans, {total / 1e6:.1f} ms, "
        f"services: {', '.join(services)}"
    )
    for span in mine:
        if span["parent_id"] is None or span["parent_id"] not in known:
            for link in span["links"]:
                yield f"  ↳ {span['name']!r} follows from trace {link['trace_id']}"

    def walk(span: dict[str, Any], depth: int) -> Iterable[str]:
        offset, length = span["start"] - t0, span["end"] - span["start"]
        left = int(WIDTH * offset / total)
        bar = " " * left + "█" * max(1, int(WIDTH * length / total))
        error = "  ✗" if span["status"] == "ERROR" else ""
        yield (
            f"  {offset / 1e6:8.1f} ms {length / 1e6:8.1f} ms  {span['service']:<12} "
            f"{'  ' * depth}{span['name']:<{44 - 2 * depth}} {bar:<{WIDTH + 1}}{error}"
        )
        for child in children.get(span["span_id"], []):
            yield from walk(child, depth + 1)

    for root in children[None]:
        yield from walk(root, 0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="supportdesk-trace", description=__doc__)
    parser.add_argument("ticket", nargs="?", help="case number, ticket id or trace id")
    parser.add_argument("--dir", type=Path, default=Path("var/traces"))
    parser.add_argument("--list", action="store_true", help="the latest traces")
    args = parser.parse_args(argv)
    spans = load(args.dir)
    if not spans:
        print(f"no spans in {args.dir}/*.jsonl yet (is `make run` running?)")
        return
    if args.list or not args.ticket:
        roots = [s for s in spans if s["parent_id"] is None][-20:]
        for span in roots:
            print(f"{span['trace_id']}  {span['service']:<12} {span['name']}")
        return
    found = traces_of(spans, args.ticket)
    if not found:
        print(f"no trace mentions {args.ticket}")
    for trace_id in found:
        print("\n".join(waterfall(spans, trace_id)) + "\n")


if __name__ == "__main__":
    main()
