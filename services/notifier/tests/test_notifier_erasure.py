"""The development mail sink forgets a ticket's mail when its contact's data is erased."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

from notifier.erasure import forget_mail


def message(to: str, subject: str, body: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "desk@example.com", to, subject
    mail.set_content(body, charset="utf-8", cte="base64")  # bodies are often encoded
    return mail


def test_the_sinks_mail_about_the_ticket_or_to_the_contact_is_deleted(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    box.add(message("zoila@acme.example", "[BIT-000007] Recibimos su solicitud", "Hola Zoila"))
    box.add(message("lucia@desk.example", "Nuevo caso", "El caso BIT-000007 espera respuesta"))
    box.add(message("Zoila <ZOILA@acme.example>", "Otro asunto", "Sin número de caso"))
    kept = box.add(message("ana@acme.example", "[BIT-000008] Recibimos", "Hola Ana"))

    deleted = forget_mail(tmp_path / "mail", "BIT-000007", {"zoila@acme.example"})

    assert deleted == 3
    assert list(mailbox.Maildir(tmp_path / "mail").keys()) == [kept]
