"""``notifier-mail``: read the mail the embedded system sent, from the local SMTP sink.

``make run`` starts an SMTP server (aiosmtpd) on 127.0.0.1:8025 that keeps every message in
the Maildir ``var/mail``; this command lists them, newest last, and prints the newest in full
(or the one whose number you give), so a newcomer sees the acknowledgment a ticket produced.
"""

from __future__ import annotations

import argparse
import mailbox
from email.message import Message
from pathlib import Path


def _text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="notifier-mail", description=__doc__)
    parser.add_argument("number", nargs="?", type=int, help="the message to show in full")
    parser.add_argument("--maildir", type=Path, default=Path("var/mail"))
    args = parser.parse_args(argv)
    if not args.maildir.exists():
        print(f"no mail yet in {args.maildir} (is `make run` running?)")
        return
    box = mailbox.Maildir(args.maildir, create=True)
    messages = sorted(box, key=lambda m: m.get_date())
    if not messages:
        print(f"no mail yet in {args.maildir}: open a ticket (see the README) and look again")
    for number, message in enumerate(messages, 1):
        print(f"{number:4}  {message['Date']}  {message['To']}\n      {message['Subject']}")
    if messages:
        shown = messages[(args.number or len(messages)) - 1]
        print("\n" + "\n".join(f"{h}: {shown[h]}" for h in ("From", "To", "Subject", "Message-ID")))
        print("\n" + _text(shown))


if __name__ == "__main__":
    main()
