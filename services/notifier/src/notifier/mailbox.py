"""``notifier-mail``: read the mail the embedded system sent, from the local SMTP sink.

``make run`` starts an SMTP server (aiosmtpd) on 127.0.0.1:8025 that keeps every message in
the Maildir ``var/mail``; this command lists them, newest last, and prints the newest in full
(or the one whose number you give), so a newcomer sees the acknowledgment a ticket produced.

Headers are shown decoded, as a mail program shows them: the notifier writes names and
subjects with accents as RFC 2047 encoded words (``=?utf-8?q?Luc=C3=ADa?=``), which the
standard library's ``policy.default`` turns back into text.
"""

from __future__ import annotations

import argparse
import mailbox
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from pathlib import Path


def _text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def _parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default builds
    return message


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="notifier-mail", description=__doc__)
    parser.add_argument("number", nargs="?", type=int, help="the message to show in full")
    parser.add_argument("--maildir", type=Path, default=Path("var/mail"))
    args = parser.parse_args(argv)
    if not args.maildir.exists():
        print(f"no mail yet in {args.maildir} (is `make run` running?)")
        return
    box = mailbox.Maildir(args.maildir, create=True)
    # Oldest first by delivery time (the Maildir's), each parsed with decoded headers.
    keys = sorted(box.keys(), key=lambda key: box.get_message(key).get_date())
    messages = [_parsed(box.get_bytes(key)) for key in keys]
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
