"""Examples of the read API's answers, for the OpenAPI document (each model carries its own).

One story throughout: BIT-000123, an urgent ticket of tenant ``acme`` under the BITAM policy
(office hours 8:30–18:00 Mexico City), registered Friday 27 November 2026 at 17:30, due Monday
at 9:00; Lucía Gómez has it. A test checks every example against its schema.
"""

from __future__ import annotations

from typing import Any

TICKET_ID = "0b8f6c2e-4d1a-4f3b-9a7e-2c5d8e1f3a6b"


def at(utc: str, local: str) -> dict[str, str]:
    return {"utc": utc, "local": local}


REGISTERED = at("2026-11-27T23:30:00Z", "2026-11-27T17:30:00-06:00")
FRIDAY_1800 = at("2026-11-28T00:00:00Z", "2026-11-27T18:00:00-06:00")
SATURDAY = at("2026-11-28T06:00:00Z", "2026-11-28T00:00:00-06:00")
MONDAY = at("2026-11-30T06:00:00Z", "2026-11-30T00:00:00-06:00")
OPENING = at("2026-11-30T14:30:00Z", "2026-11-30T08:30:00-06:00")
DUE = at("2026-11-30T15:00:00Z", "2026-11-30T09:00:00-06:00")
NOW = at("2026-11-30T14:45:00Z", "2026-11-30T08:45:00-06:00")


def counted(start: dict[str, str], end: dict[str, str], seconds: float) -> dict[str, Any]:
    return {
        "kind": "counted",
        "start": start,
        "end": end,
        "elapsed_seconds": seconds,
        "business_seconds": seconds,
        "text": "contado",
    }


def skipped(
    start: dict[str, str], end: dict[str, str], seconds: float, why: str, text: str
) -> dict[str, Any]:
    return {
        "kind": "skipped",
        "start": start,
        "end": end,
        "elapsed_seconds": seconds,
        "business_seconds": 0.0,
        "why": why,
        "name": None,
        "state": None,
        "by": None,
        "because": None,
        "text": text,
    }


ASSIGNEE = {"id": "agent-lucia", "name": "Lucía Gómez"}

CLOCK: dict[str, Any] = {
    "metric": "first_response",
    "status": "running",
    "running": True,
    "target_seconds": 3600.0,
    "used_seconds": 2700.0,
    "remaining_seconds": 900.0,
    "deadline": DUE,
    "started_at": REGISTERED,
    "met_at": None,
    "late": False,
    "pauses": 0,
    "cycle": 1,
    "earlier_cycles": [],
}

TICKET_CLOCKS: dict[str, Any] = {
    "ticket_id": TICKET_ID,
    "case_number": "BIT-000123",
    "title": "El portal de facturación no responde",
    "policy": "bitam",
    "policy_version": 3,
    "tenant": "acme",
    "priority": "urgente",
    "assignee": ASSIGNEE,
    "ticket_type": "soporte",
    "state": "in_progress",
    "time_zone": "America/Mexico_City",
    "now": NOW,
    "ticket_version": 4,
    "clocks": [CLOCK],
}

CLOCK_ROW: dict[str, Any] = {
    "ticket_id": TICKET_ID,
    "case_number": "BIT-000123",
    "title": "El portal de facturación no responde",
    "metric": "first_response",
    "policy": "bitam",
    "tenant": "acme",
    "priority": "urgente",
    "assignee": ASSIGNEE,
    "state": "in_progress",
    "ticket_type": "soporte",
    "status": "running",
    "running": True,
    "late": False,
    "target_seconds": 3600.0,
    "used_seconds_as_of": 1800.0,
    "as_of": at("2026-11-28T00:00:00Z", "2026-11-27T18:00:00-06:00"),
    "deadline": DUE,
    "until_deadline_seconds": 900.0,
    "met_at": None,
    "pauses": 0,
}

CURSOR = "WyIyMDI2LTExLTMwVDE1OjAwOjAwKzAwOjAwIiwiMGI4ZjZjMmUiLCJyZXNvbHV0aW9uIl0"

AT_RISK: dict[str, Any] = {
    "now": NOW,
    "within_seconds": 7200.0,
    "limit": 50,
    "truncated": True,
    "items": [CLOCK_ROW],
    "next_cursor": CURSOR,
}

BREACHED_ROW = CLOCK_ROW | {
    "ticket_id": "5e7a9c1b-3d2f-4a6e-8b0c-1d3e5f7a9b2c",
    "case_number": "BIT-000098",
    "title": "No timbra CFDI desde la actualización",
    "tenant": "globex",
    "status": "breached",
    "running": True,
    "late": True,
    "used_seconds_as_of": 3600.0,
    "as_of": at("2026-11-23T17:30:00Z", "2026-11-23T11:30:00-06:00"),
    "deadline": at("2026-11-23T17:00:00Z", "2026-11-23T11:00:00-06:00"),
    "until_deadline_seconds": -589500.0,
}

BREACHES: dict[str, Any] = {
    "since": at("2026-11-23T06:00:00Z", "2026-11-23T06:00:00+00:00"),
    "until": at("2026-11-30T06:00:00Z", "2026-11-30T06:00:00+00:00"),
    "limit": 50,
    "truncated": False,
    "items": [BREACHED_ROW],
    "next_cursor": None,
}

COMPLIANCE: dict[str, Any] = {
    "since": at("2026-11-01T06:00:00Z", "2026-11-01T06:00:00+00:00"),
    "until": at("2026-12-01T06:00:00Z", "2026-12-01T06:00:00+00:00"),
    "items": [
        {
            "policy": "bitam",
            "priority": "urgente",
            "metrics": {
                "first_response": {
                    "met": 40,
                    "met_on_time": 37,
                    "on_time_share": 0.925,
                    "median_used_seconds": 1260.0,
                    "p90_used_seconds": 3420.0,
                },
                "resolution": {
                    "met": 38,
                    "met_on_time": 33,
                    "on_time_share": 0.868,
                    "median_used_seconds": 2580.0,
                    "p90_used_seconds": 3540.0,
                },
            },
        }
    ],
}

RECEIPT: dict[str, Any] = {
    "ticket_id": TICKET_ID,
    "case_number": "BIT-000123",
    "title": "El portal de facturación no responde",
    "tenant": "acme",
    "state": "in_progress",
    "policy": "bitam",
    "priority": "urgente",
    "ticket_type": "soporte",
    "time_zone": "America/Mexico_City",
    "as_of": NOW,
    "language": "es",
    "clocks": [
        {
            "metric": "first_response",
            "name": "Primera respuesta",
            "cycle": 1,
            "status": "running",
            "status_text": "en curso",
            "late": False,
            "target_seconds": 3600.0,
            "started_at": REGISTERED,
            "ended_at": NOW,
            "met_at": None,
            "deadline": DUE,
            "used_seconds": 2700.0,
            "total_seconds": 2700.0,
            "used": "0:45:00",
            "total": "0:45:00",
            "lines": [
                counted(REGISTERED, FRIDAY_1800, 1800.0),
                skipped(FRIDAY_1800, SATURDAY, 21600.0, "night", "fuera del horario (noche)"),
                skipped(SATURDAY, MONDAY, 172800.0, "weekend", "fin de semana"),
                skipped(MONDAY, OPENING, 30600.0, "night", "fuera del horario (noche)"),
                counted(OPENING, NOW, 900.0),
            ],
        }
    ],
}

RECEIPT_TEXT = """\
Recibo de SLA · BIT-000123 · El portal de facturación no responde
política bitam · prioridad urgente · zona America/Mexico_City
al 2026-11-30 lun 08:45:00 (2026-11-30 14:45:00 UTC)

Primera respuesta · ciclo 1 · en curso · objetivo 1:00:00
  desde (local)            hasta (local)            desde (UTC)          hasta (UTC)             \
cuenta  motivo
  2026-11-27 vie 17:30:00  2026-11-27 vie 18:00:00  2026-11-27 23:30:00  2026-11-28 00:00:00    \
0:30:00  contado
  2026-11-27 vie 18:00:00  2026-11-28 sáb 00:00:00  2026-11-28 00:00:00  2026-11-28 06:00:00    \
      —  fuera del horario (noche)
  2026-11-28 sáb 00:00:00  2026-11-30 lun 00:00:00  2026-11-28 06:00:00  2026-11-30 06:00:00    \
      —  fin de semana
  2026-11-30 lun 00:00:00  2026-11-30 lun 08:30:00  2026-11-30 06:00:00  2026-11-30 14:30:00    \
      —  fuera del horario (noche)
  2026-11-30 lun 08:30:00  2026-11-30 lun 08:45:00  2026-11-30 14:30:00  2026-11-30 14:45:00    \
0:15:00  contado
  total contado 0:45:00 = tiempo usado 0:45:00
"""
"""The same receipt as ``format=text`` (for a mail or a penalty dispute)."""

CLOCK_CHANGE_EVENT = (
    "id: 2026-11-30T15:00:00+00:00\n"
    "event: clock\n"
    'data: {"ticket_id": "' + TICKET_ID + '", "case_number": "BIT-000123", "metric": '
    '"first_response", "status": "breached", "change": "deadline_passed", …}\n\n'
)
"""One message of the clock stream (``data`` abridged: a ``ClockChange``)."""

HEALTH = {"status": "ok"}
READY = {"status": "ok", "database": "ok", "nats": "ok", "consumer": "attached"}
NOT_READY = {"status": "unavailable", "database": "ConnectionRefusedError"}
