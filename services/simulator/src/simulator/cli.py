"""``supportdesk-simulate`` (``make simulate``): a month of support in minutes.

Against ``SIMULATED_CLOCK=true make run``: registers the simulated organizations, contacts and
agents, plays the seed's schedule through REST and the SMTP intake while moving the shared
clock step by step, prints the throughput, then writes the SLA report of the period to
``var/reports/<run>/``.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time

from contracts.policy.durations import parse_span
from simulator.driver import Driver
from simulator.live import LivePort
from simulator.scenario import DESKS, schedule
from simulator.setup import register


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--load",
        type=float,
        default=1.0,
        help="traffic scale: 1 ≈ 5,000 tickets a month over the five desks",
    )
    parser.add_argument(
        "--from",
        dest="start",
        type=date.fromisoformat,
        default=date(2026, 11, 2),
        help="first simulated day (a Monday)",
    )
    parser.add_argument("--step", default="10m", help="clock step: the simulation's resolution")
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--smtp", default="127.0.0.1:2525")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--admin-key", default="dev-admin")
    parser.add_argument("--staff-key", default="dev-supervisor")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.12,
        help="seconds without movement on NATS that count as settled",
    )
    parser.add_argument("--report", default="var/reports", help="folder of the reports ('' none)")
    parser.add_argument("--sla-url", default="http://127.0.0.1:8001")
    parser.add_argument("--notifier-url", default="http://127.0.0.1:8002")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    args = parse_args(argv)
    span = parse_span(args.step)
    host, port_number = args.smtp.rsplit(":", 1)
    port = LivePort(args.api, (host, int(port_number)), args.nats, args.quiet)
    start = datetime.combine(args.start, clock_time(0), UTC)
    end = start + timedelta(days=args.days)
    plans = schedule(args.seed, args.start, args.days, args.load)
    print(
        f"{len(plans)} requests over {args.days} days from {args.start} (seed {args.seed}, "
        f"load {args.load}); clock step {args.step}"
    )
    began = time.perf_counter()
    run = f"sim-{args.seed}-{args.start}-{args.days}d"
    customers, agents, keys = register(port, args.admin_key, args.load, run)
    tickets_before, sla_before = port.stream_sizes()
    driver = Driver(
        port, customers, agents, keys, args.staff_key, {d.policy: d.email_to for d in DESKS}
    )
    driver.run(plans, start, end, span.fixed)
    port.settle()
    took = time.perf_counter() - began
    tickets_after, sla_after = port.stream_sizes()
    port.close()
    events = (tickets_after - tickets_before) + (sla_after - sla_before)
    s = driver.stats
    opened = s.opened_api + s.opened_email - s.lost_mail
    print(
        f"opened {opened} tickets ({s.opened_api} REST, {s.opened_email - s.lost_mail} mail), "
        f"{s.requests} requests ({s.refused} refused), actions {dict(sorted(s.actions.items()))}"
    )
    print(f"events: {tickets_after - tickets_before} ticket, {sla_after - sla_before} SLA")
    print(
        f"took {took:.1f} s wall for {args.days} simulated days: {opened / took:.1f} tickets/s, "
        f"{events / took:.1f} events/s, {s.requests / took:.1f} requests/s"
    )
    if args.report:
        from simulator.report_cli import write_report

        folder = write_report(
            args.report,
            run,
            start,
            end,
            nats_url=args.nats,
            notifier_url=args.notifier_url,
            staff_key=args.staff_key,
        )
        print(f"report: {folder}/index.html")


if __name__ == "__main__":
    main()
