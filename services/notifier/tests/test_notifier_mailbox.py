"""``make mail`` shows the mail the way a mail program does, accents and all."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from notifier.mailbox import main as notifier_mail


def _deliver(box: mailbox.Maildir, subject: str, to: str, when: datetime) -> None:
    """A message as the notifier sends it: non-ASCII headers become RFC 2047 encoded words."""
    message = EmailMessage()
    message["From"] = "Mesa de soporte <soporte@supportdesk.local>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message.set_content("Hola:\n\nSu caso fue asignado a Lucía Gómez.\n")
    raw = message.as_bytes(policy=policy.SMTP)  # as aiosmtplib puts it on the wire
    assert b"=?utf-8?" in raw  # the headers really are encoded on the wire
    stored = mailbox.MaildirMessage(raw)
    stored.set_date(when.timestamp())
    box.add(stored)


def test_headers_are_decoded_and_the_newest_shown_in_full(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    first = datetime(2026, 11, 24, 8, 12, tzinfo=UTC)
    acknowledgment = "[BIT-000001] Recibimos su solicitud: Facturación caída"
    _deliver(box, acknowledgment, "Ana Ruiz <ana@acme.example>", first)
    later = datetime(2026, 11, 24, 8, 20, tzinfo=UTC)
    _deliver(box, "[BIT-000001] Asignado a Lucía Gómez", "Ana Ruíz <ana@acme.example>", later)

    notifier_mail(["--maildir", str(tmp_path / "mail")])
    out = capsys.readouterr().out
    assert "=?utf-8?" not in out
    assert "   1  " in out and "Facturación caída" in out
    assert "   2  " in out and "Ana Ruíz <ana@acme.example>" in out
    assert "Subject: [BIT-000001] Asignado a Lucía Gómez" in out
    assert "Su caso fue asignado a Lucía Gómez." in out

    notifier_mail(["--maildir", str(tmp_path / "mail"), "1"])
    assert "Subject: [BIT-000001] Recibimos su solicitud" in capsys.readouterr().out
