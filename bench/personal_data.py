"""The cost of sealing personal data (ADR 23): the write path and the relay, sealed vs plain.

Run: ``uv run python bench/personal_data.py`` (``--smoke``: a tiny size, a check that it runs
rather than a measurement; ``--postgres`` for the production store instead of SQLite).

Two ticket desks side by side in one process, on stores of the same kind configured as
ticket-api's settings configure them: one as ticket-api runs (personal fields sealed under a
data key per ticket, keys wrapped by the master key), one with sealing switched off (no key
issued, every field stored as it is) — the plain baseline.
The desks take turns ticket by ticket (relay passes alternate) so the machine's noise falls on
both, and each figure is the best round (as ``timeit`` reports): on a shared machine the
slower rounds measure the neighbours.

1. Write path: each ticket opened by its customer (case number, contract check, key issued),
   then an agent assigns it, starts it and the customer and agent reply: ``desk.open`` and
   ``desk.change`` through the use cases, as REST calls them, without HTTP.
2. Relay: what the outbox relay does per stored event before NATS — read the notification log,
   decode the event (its sealed box left closed: the relay reads no key), build and check its
   CloudEvent and put the stored ciphertext on the wire — the production
   ``OutboxRelay._message`` over the whole log. Publishing to NATS then costs about the same
   for both (a sealed body is somewhat larger).

The target is a cost under 10%.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where ``calendar.py`` would
# shadow the standard library's module: take the folder off the path (as bench/relay.py does).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "testing"))

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bench_support import postgres_helpers

from contracts.policy import load_policies
from ticket_api.application import TicketDesk
from ticket_api.commands import Assign, Caller, OpenTicket, Reply
from ticket_api.lease import FileLease
from ticket_api.relay import OutboxRelay, RelaySettings
from ticket_api.settings import Settings

POLICIES = ROOT / "policies"
CUSTOMER = Caller({"kind": "customer", "id": "contact-ana", "name": "Ana Ruiz"})
AGENT = Caller({"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"})
CONTACT = {"id": "contact-ana", "name": "Ana Ruiz", "email": "ana@acme.example",
           "phone": "+573001234567", "locale": "es"}  # fmt: skip
EVENTS_PER_TICKET = 5
RELAY_PASSES = 3


def plain(desk: TicketDesk) -> TicketDesk:
    """The baseline: the same desk with sealing switched off."""
    desk.sealing.keyring = None
    desk.keyring.known = lambda key_id: True  # type: ignore[method-assign]
    desk.keyring.ensure = lambda *args, **kwargs: None  # type: ignore[method-assign]
    return desk


def work_ticket(desk: TicketDesk, n: int) -> float:
    """Open ticket ``n`` and work it (5 events); the seconds taken."""
    began = time.perf_counter()
    opening = OpenTicket(
        policy="bitam", tenant="acme", contact=CONTACT, ticket_type="soporte",
        priority="alta", product="ebavel", product_version="6.6",
        title=f"El portal no responde ({n})",
        description="Desde las 9:00 el portal devuelve error 500 al timbrar facturas. " * 4,
    )  # fmt: skip
    ticket = desk.open(opening, CUSTOMER).ticket.id
    desk.assign(ticket, Assign(agent_id="agent-lucia", agent_name="Lucía Gómez"), AGENT)
    desk.start(ticket, AGENT)
    desk.reply(ticket, Reply(body="Revisamos el registro del servidor, ¿desde cuándo?"), AGENT)
    desk.reply(ticket, Reply(body="Desde ayer a las 9:00, con todas las facturas."), CUSTOMER)
    return time.perf_counter() - began


def relay_pass(relay: OutboxRelay, desk: TicketDesk) -> tuple[float, int]:
    """Build every message of the log as the relay does; the seconds taken and the count."""
    relay._owners.clear()  # as after a restart: owners are looked up again
    began = time.perf_counter()
    built, start = 0, 1
    while notifications := desk.recorder.select_notifications(start=start, limit=500):
        for notification in notifications:
            if notification.topic in relay._ticket_topics:
                relay._message(notification)
                built += 1
        start = notifications[-1].id + 1
    return time.perf_counter() - began, built


@contextmanager
def stores(postgres: bool, workdir: Path) -> Iterator[Callable[[str], dict[str, str]]]:
    """Event store environments by name, as ticket-api's settings make them (the SQLite store
    keeps recent tickets in memory; PostgreSQL reads each ticket's events per command): fresh
    SQLite files, or fresh PostgreSQL databases."""
    if not postgres:
        yield lambda name: Settings(data_dir=workdir / name).event_store_env({})
        return
    helpers = postgres_helpers()
    with helpers.running_postgres() as server:

        def env(name: str) -> dict[str, str]:
            database = helpers.fresh_database(server, f"bench_pd_{name}")
            return Settings(store="postgres").event_store_env(dict(database))

        yield env


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200, help="tickets per round and desk")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does it work?")
    args = parser.parse_args()
    if args.smoke:
        args.tickets, args.rounds = 10, 2
    return args


def cost(plain_rate: float, sealed_rate: float) -> str:
    return f"{(plain_rate / sealed_rate - 1) * 100:+.1f}%"


def main() -> None:
    args = arguments()
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"bench personal data: {args.tickets} tickets x {EVENTS_PER_TICKET} events per round, "
          f"{args.rounds} rounds, {store}")  # fmt: skip
    policies = load_policies(POLICIES)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        env = stack.enter_context(stores(args.postgres, Path(tmp)))
        desks = {
            "plain": plain(TicketDesk(env("plain"), policies=policies)),
            "sealed": TicketDesk(env("sealed"), policies=policies),
        }
        for desk in desks.values():
            stack.callback(desk.close)
        relays = {
            name: OutboxRelay(desk, FileLease(Path(tmp) / f"{name}.lock"), RelaySettings("-"))
            for name, desk in desks.items()
        }
        writes: dict[str, list[float]] = {name: [] for name in desks}
        reads: dict[str, list[float]] = {name: [] for name in desks}
        for round_ in range(args.rounds):
            spent = dict.fromkeys(desks, 0.0)
            for n in range(args.tickets):  # ticket by ticket, in turn: noise hits both alike
                order = list(desks) if n % 2 else list(reversed(desks))
                for name in order:
                    spent[name] += work_ticket(desks[name], round_ * args.tickets + n)
            for name in desks:
                writes[name].append(args.tickets * EVENTS_PER_TICKET / spent[name])
            for _ in range(RELAY_PASSES):
                for name, desk in desks.items():
                    seconds, built = relay_pass(relays[name], desk)
                    reads[name].append(built / seconds)
        rate: dict[str, Any] = {  # the best round of each: the least disturbed by the machine
            "write": {n: max(r) for n, r in writes.items()},
            "relay": {n: max(r) for n, r in reads.items()},
        }
    print(f"{'':12}{'plain':>16}{'sealed':>16}{'cost':>10}")
    for phase, unit in (("write", "events/s"), ("relay", "msgs/s")):
        p, s = rate[phase]["plain"], rate[phase]["sealed"]
        label = "write path" if phase == "write" else "relay build"
        print(f"{label:12}{p:>10,.0f} {unit:<6}{s:>9,.0f} {unit:<6}{cost(p, s):>9}")
    print("cost: how much longer the sealed desk takes per event than the plain one (best "
          "round of each, as timeit does; the target is under 10%)")  # fmt: skip


if __name__ == "__main__":
    main()
