"""``policy-check FILE...``: validate policy files before deploying them."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from contracts.policy.loading import PolicyFileError, load_policy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check support-policy files.")
    parser.add_argument("files", nargs="+", help="policy YAML files")
    parser.add_argument("--hours", action="store_true", help="print support hours per country")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.files:
        try:
            policy = load_policy(name)
        except PolicyFileError as exc:
            print(exc, file=sys.stderr)
            failed += 1
            continue
        print(
            f"{name}: ok ({policy.id}: {len(policy.priorities)} priorities, "
            f"{len(policy.ticket_types)} ticket types)"
        )
        if args.hours:
            for row in policy.support_hours_table(datetime.now(UTC).date()):
                hours = "; ".join(f"{d} {', '.join(w)}" for d, w in row["hours"].items())
                print(f"  {row['country']:<12} {hours}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
