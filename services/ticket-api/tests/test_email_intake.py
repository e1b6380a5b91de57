"""Requests by email: what becomes of each kind of message a support mailbox receives (004)."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from receivers import free_port

from conftest import ADMIN, AGENT, CUSTOMER, SERVICE, Api, is_problem, running_api

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def mail(
    subject: str = "Error 500 al timbrar facturas",
    body: str = "Desde las 9:00 la DIAN responde 500.",
    *,
    sender: str = "Ana Ruiz <ana@acme.example>",
    to: str = "soporte@btw.com.co",
    html: str | None = None,
    charset: str = "utf-8",
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = make_msgid(domain="acme.example")
    for name, value in (headers or {}).items():
        message[name] = value
    if html is not None:
        message.set_content(html, subtype="html", charset=charset)
    else:
        message.set_content(body, charset=charset)
    for name, media_type, content in attachments:
        maintype, subtype = media_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def deliver(api: Api, raw: bytes, headers: dict[str, str] = SERVICE) -> Any:
    return api.client.post(
        "/v1/intake/email",
        content=raw,
        headers={**headers, "Content-Type": "message/rfc822"},
    )


def tickets(api: Api) -> list[dict[str, Any]]:
    return api.client.get("/v1/tickets", headers=AGENT).json()["items"]  # type: ignore[no-any-return]


def test_an_email_from_a_registered_contact_opens_a_ticket_with_its_attachments(api: Api) -> None:
    raw = mail(
        attachments=(
            ("pantallazo.png", "image/png", PNG),
            ("factura.xml", "application/xml", b"<Invoice/>"),
            ("setup.exe", "application/x-msdownload", b"MZ..."),
        )
    )
    answer = deliver(api, raw)
    assert answer.status_code == 201, answer.text
    outcome = answer.json()
    assert outcome["action"] == "opened" and outcome["case_number"].startswith("BTW-")
    assert [r["name"] for r in outcome["refused_attachments"]] == ["setup.exe"]
    ticket = api.client.get(f"/v1/tickets/{outcome['ticket_id']}", headers=AGENT).json()
    # Sent to BTW's support address: BTW's policy, by email, from Ana of acme.
    assert (ticket["policy"], ticket["tenant"], ticket["channel"]) == ("btw", "acme", "email")
    # BTW files mail as a support case of moderate impact (its policy's email_intake).
    assert (ticket["ticket_type"], ticket["priority"]) == ("soporte", "p3")
    assert ticket["contact"]["email"] == "ana@acme.example"
    assert ticket["title"] == "Error 500 al timbrar facturas"
    assert ticket["description"] == "Desde las 9:00 la DIAN responde 500."
    assert [(a["name"], a["media_type"]) for a in ticket["attachments"]] == [
        ("pantallazo.png", "image/png"),
        ("factura.xml", "application/xml"),
    ]
    png = ticket["attachments"][0]
    download = api.client.get(
        f"/v1/tickets/{ticket['id']}/attachments/{png['id']}", headers=CUSTOMER
    )
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    # Bob (another tenant) cannot reach it.
    other = api.client.get(
        f"/v1/tickets/{ticket['id']}/attachments/{png['id']}",
        headers={"Authorization": "Bearer other-customer"},
    )
    assert is_problem(other, 404)


def test_a_reply_with_the_case_number_in_the_subject_is_the_customers_reply(api: Api) -> None:
    opened = deliver(api, mail()).json()
    reply = mail(
        subject=f"RE: [{opened['case_number']}] Recibimos su solicitud",
        body="Adjunto el XML rechazado.\n\nEl lun, 23 nov 2026 a las 9:00, Soporte escribió:\n"
        "> Recibimos su solicitud",
    )
    answer = deliver(api, reply)
    assert answer.status_code == 200 and answer.json()["action"] == "replied"
    assert answer.json()["ticket_id"] == opened["ticket_id"]
    history = api.client.get(f"/v1/tickets/{opened['ticket_id']}/events", headers=AGENT).json()
    assert history[-1]["type"] == "ticket.customer_replied"
    assert history[-1]["data"]["body"] == "Adjunto el XML rechazado."  # quoted history cut
    assert history[-1]["data"]["channel"] == "email"
    assert len(tickets(api)) == 1


def test_the_same_message_delivered_twice_opens_one_ticket(api: Api) -> None:
    raw = mail()
    first, second = deliver(api, raw).json(), deliver(api, raw).json()
    assert first["ticket_id"] == second["ticket_id"]
    assert len(tickets(api)) == 1


def test_latin1_and_html_only_messages_read_as_text(api: Api) -> None:
    text = "Facturación electrónica caída: señal débil"
    latin = deliver(api, mail(body=text, charset="iso-8859-1"))
    ticket = api.client.get(f"/v1/tickets/{latin.json()['ticket_id']}", headers=AGENT).json()
    assert ticket["description"] == text
    html = "<html><body><p>El <b>portal</b> no carga.</p><img src='x.png'></body></html>"
    answer = deliver(api, mail(subject="Portal caído", html=html))
    ticket = api.client.get(f"/v1/tickets/{answer.json()['ticket_id']}", headers=AGENT).json()
    assert ticket["description"] == "El **portal** no carga."


@pytest.mark.parametrize(
    ("case", "raw", "action", "reason"),
    [
        (
            "unregistered sender",
            mail(sender="intruso@gmail.example"),
            "refused",
            "sender-not-registered",
        ),
        (
            "spoofed sender (DMARC failed at our MTA)",
            mail(headers={"Authentication-Results": "mx.desk.example; spf=fail; dmarc=fail"}),
            "refused",
            "sender-not-verified",
        ),
        (
            "out-of-office auto-reply",
            mail(subject="Fuera de la oficina", headers={"Auto-Submitted": "auto-replied"}),
            "ignored",
            "automatic: Auto-Submitted: auto-replied",
        ),
        (
            "bulk mail",
            mail(headers={"Precedence": "bulk"}),
            "ignored",
            "automatic: Precedence: bulk",
        ),
        (
            "bounce from the mail system",
            mail(sender="MAILER-DAEMON@mx.acme.example", subject="Undelivered Mail"),
            "ignored",
            "automatic: sent by a mail system",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)
def test_mail_that_must_not_become_a_ticket_does_not(
    api: Api, case: str, raw: bytes, action: str, reason: str
) -> None:
    answer = deliver(api, raw)
    assert answer.status_code == 202, answer.text
    assert (answer.json()["action"], answer.json()["reason"]) == (action, reason)
    assert tickets(api) == []


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(api: Api) -> None:
    first = deliver(api, mail()).json()
    for command, body in (
        ("assign", {"agent_id": "agent-lucia", "agent_name": "Lucía"}),
        ("start", {}),
        ("resolve", {"resolution": "solution", "summary": "Listo"}),
        ("close", {"closure": "confirmed"}),
    ):
        done = api.client.post(
            f"/v1/tickets/{first['ticket_id']}/{command}", json=body, headers=AGENT
        )
        assert done.status_code == 200, done.text
    again = deliver(api, mail(subject=f"Re: [{first['case_number']}] Caso cerrado", body="Volvió"))
    assert again.status_code == 201 and again.json()["action"] == "opened"
    follow_up = api.client.get(f"/v1/tickets/{again.json()['ticket_id']}", headers=AGENT).json()
    assert follow_up["follow_up_of"] == first["ticket_id"]


def test_another_tenants_case_number_is_just_text(api: Api) -> None:
    bob = deliver(api, mail(sender="bob@globex.example")).json()
    answer = deliver(api, mail(subject=f"Sobre {bob['case_number']}"))
    assert answer.json()["action"] == "opened" and answer.json()["ticket_id"] != bob["ticket_id"]


def test_without_a_policy_to_file_it_under_the_mail_is_refused(api: Api) -> None:
    answer = deliver(api, mail(to="someone@desk.example"))
    assert answer.json() == {
        "action": "refused",
        "reason": "no-policy-for-email",
        "ticket_id": None,
        "case_number": None,
        "refused_attachments": [],
    }


def test_only_services_and_admins_deliver_mail(api: Api) -> None:
    assert is_problem(deliver(api, mail(), CUSTOMER), 403)
    assert deliver(api, mail(), ADMIN).status_code == 201
    assert is_problem(deliver(api, b"   "), 422)


@pytest.fixture
def with_smtp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Api, int]]:
    port = free_port()
    for api in running_api(request, tmp_path, "sqlite", smtp_intake_port=port):
        yield api, port


def test_mail_sent_to_the_smtp_listener_becomes_a_ticket(with_smtp: tuple[Api, int]) -> None:
    api, port = with_smtp
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("ana@acme.example", ["soporte@bitam.com"], mail(to="Soporte <x@y.example>"))
    [ticket] = tickets(api)
    # The envelope recipient (BITAM's address) chose the policy, as Delivered-To.
    assert (ticket["policy"], ticket["tenant"]) == ("bitam", "acme")


def test_mail_the_desk_refuses_by_rule_gets_a_permanent_smtp_reply_not_a_retry(
    with_smtp: tuple[Api, int],
) -> None:
    api, port = with_smtp
    # acme now has a cloud space whose one authorized contact is Carla, not Ana (000).
    carla = {"id": "contact-carla", "name": "Carla Paz", "email": "carla@acme.example"}
    assert api.client.post("/v1/tenants/acme/contacts", json=carla, headers=ADMIN).is_success
    space = {"name": "Nube producción", "contact": "contact-carla"}
    assert api.client.put("/v1/tenants/acme/spaces/nube", json=space, headers=ADMIN).is_success
    with smtplib.SMTP("127.0.0.1", port) as smtp, pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail("ana@acme.example", ["soporte@bitam.com"], mail())
    # 5xx: the sending MTA bounces it instead of retrying the same refusal for days
    assert refused.value.smtp_code == 550
    assert tickets(api) == []
