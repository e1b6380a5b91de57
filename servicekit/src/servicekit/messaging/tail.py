"""``events-tail [SUBJECT]``: print events from the streams as they arrive (like ``nats sub``).

Uses an ephemeral ordered consumer, so it never disturbs the services' durable consumers.
``--all`` starts from the beginning of the stream instead of new events only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

import nats
from nats.js.api import DeliverPolicy

from servicekit.messaging import servers


async def tail(url: str, subject: str, from_start: bool) -> None:
    nc = await nats.connect(servers=servers(url))
    js = nc.jetstream()
    policy = DeliverPolicy.ALL if from_start else DeliverPolicy.NEW
    subscription = await js.subscribe(subject, ordered_consumer=True, deliver_policy=policy)
    print(f"listening on {subject} at {url} (Ctrl-C to stop)", flush=True)
    try:
        async for message in subscription.messages:
            event = json.loads(message.data)
            msg_id = (message.headers or {}).get("Nats-Msg-Id", "")
            print(f"{message.subject}  {msg_id}  {event.get('time')}", flush=True)
            print("   " + json.dumps(event.get("data"), ensure_ascii=False)[:300], flush=True)
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print ticket and SLA events as they arrive.")
    parser.add_argument("subject", nargs="?", default="tickets.>")
    parser.add_argument("--url", default="nats://127.0.0.1:4222")
    parser.add_argument("--all", action="store_true", help="from the start of the stream")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how one stops tailing
        asyncio.run(tail(args.url, args.subject, args.all))


if __name__ == "__main__":
    main()
