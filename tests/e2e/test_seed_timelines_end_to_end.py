"""End to end: the seed policies' stories replayed on the shared clock through the services.

Each timeline is one ticket of one seed policy (000 BITAM, 001 iKhodi, 003 ITAC, 004 BTW),
told as steps: at an instant, what people do, then what the system must show — sla-monitor's
read API (``GET /v1/sla/tickets/{case number}``: status, deadline, cycle of each clock), the
events that reached the ``SLA`` stream during the step (names, deadlines, cycle), the mail the
notifier sent during the step (recipient, subject), what sla-monitor did to the ticket itself
(resolve, close) and the ticket's state. Each step's expectations are exact: an event or a
mail nobody expected is a failure too.

Every due instant is worked by hand in the comments, day by day, from the policy file:

- 000 BITAM: Monday–Friday 08:30–18:00 Mexico City (UTC−6), Mexican holidays (25 December,
  1 January); a business day is 9.5 h.
- 001 iKhodi: Monday–Friday 08:00–17:00 Guatemala (UTC−6), Guatemalan holidays (25 December,
  1 January); warnings at 50 % and 80 %; a business day is 9 h.
- 003 ITAC: 8x5 is Monday–Friday 08:00–18:00 Bogotá (UTC−5) with Colombian holidays (Monday
  16 November 2026, Independence of Cartagena observed); 24x7 is always open. Its file keeps
  the format's default ``pause_in: [awaiting_customer]``.
- 004 BTW: Monday–Thursday 07:30–18:00 (10.5 h), Friday 07:00–17:00 (10 h), Bogotá, Colombian
  holidays (Tuesday 8 December, Immaculate Conception); the clock starts at assignment.

A step's actions each settle before the next (``Desk.settle``), so which agent the notifier
knows of when an SLA event arrives never depends on a race between the two streams. All the
steps of a timeline run even when one fails; the failure lists every difference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from e2e_system import running_system
from nats_server import NatsServer
from sla_acceptance import AGENT, Desk, address, instant, subject

MEXICO = ZoneInfo("America/Mexico_City")
GUATEMALA = ZoneInfo("America/Guatemala")
BOGOTA = ZoneInfo("America/Bogota")

SlaShape = tuple[str, str | None, int | None, datetime | None]


def mx(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MEXICO)


def gt(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=GUATEMALA)


def co(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BOGOTA)


# -- what people do -------------------------------------------------------------------------


@dataclass(frozen=True)
class Do:
    command: str
    """``open``, or the ticket command's path (``assign``, ``replies``...)."""
    body: Mapping[str, Any] = field(default_factory=dict)
    who: str = "agent"


def opens(body: Mapping[str, Any]) -> Do:
    return Do("open", body, "customer")


def assign(agent: str) -> Do:
    return Do("assign", {"agent_id": agent, "agent_name": agent.split("@")[0].title()})


START = Do("start")
ANSWER = Do("replies", {"body": "Estamos revisando su caso", "public": True})
ASK = Do("await-customer", {"request": "Envíenos los registros del error"})
CUSTOMER_ANSWERS = Do("replies", {"body": "Adjunto los registros"}, "customer")
CUSTOMER_WRITES_BACK = Do("replies", {"body": "Sigue fallando"}, "customer")
SOLVED = Do("resolve", {"resolution": "solution", "summary": "Corregido"})
CALLED = Do("contact-attempts", {"channel": "phone"})


def reclassify(**change: str) -> Do:
    return Do("priority", {**change, "reason": "Impacto reevaluado con el cliente"})


# -- what the system must show --------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    status: str
    deadline: datetime | None
    cycle: int = 1


def started(metric: str, deadline: datetime, cycle: int = 1) -> SlaShape:
    return ("sla.clock_started", metric, cycle, deadline)


def paused(metric: str, cycle: int = 1) -> SlaShape:
    return ("sla.clock_paused", metric, cycle, None)


def resumed(metric: str, deadline: datetime, cycle: int = 1) -> SlaShape:
    return ("sla.clock_resumed", metric, cycle, deadline)


def recomputed(metric: str, deadline: datetime, cycle: int = 1) -> SlaShape:
    return ("sla.deadline_recomputed", metric, cycle, deadline)


def warning(metric: str, deadline: datetime, cycle: int = 1) -> SlaShape:
    return ("sla.warning", metric, cycle, deadline)


def breached(metric: str, deadline: datetime, cycle: int = 1) -> SlaShape:
    return ("sla.breached", metric, cycle, deadline)


def met(metric: str, deadline: datetime | None, cycle: int = 1) -> SlaShape:
    return ("sla.met", metric, cycle, deadline)


def abandonment(happens_at: datetime) -> SlaShape:
    return ("sla.abandonment_warning", None, None, happens_at)


@dataclass(frozen=True)
class Step:
    at: datetime
    do: tuple[Do, ...] = ()
    clocks: Mapping[str, Clock] = field(default_factory=dict)
    sla: tuple[SlaShape, ...] = ()
    """Every SLA event published during the step, in any order."""
    mail: tuple[tuple[str, str], ...] = ()
    """Every mail sent during the step: (recipient, subject with ``{case}``), in any order."""
    monitor: tuple[str, ...] = ()
    """The ticket events sla-monitor made during the step, in order."""
    state: str | None = None


@dataclass(frozen=True)
class Timeline:
    name: str
    steps: tuple[Step, ...]


# -- the tickets ----------------------------------------------------------------------------

BITAM = {
    "policy": "bitam",
    "title": "Reporte vacío",
    "description": "El reporte de ventas sale vacío",
    "ticket_type": "soporte",
    "product": "ebavel",
    "product_version": "6.6",
}
IKHODI = {
    "policy": "ikhodi",
    "title": "Error al facturar",
    "description": "La factura no se genera",
    "ticket_type": "problemas-basicos",
}
ITAC = {
    "policy": "itac",
    "title": "Falla en FOX",
    "description": "El módulo de inventario no responde",
    "ticket_type": "incidente",
    "intake": {
        "ambientes": "producción",
        "versiones-componentes": "FOX 1.4.2.3",
        "contactos": "Ana Ruiz, ana@acme.example",
    },
}
BTW = {
    "policy": "btw",
    "title": "XML rechazado",
    "description": "La DIAN rechaza el XML",
    "ticket_type": "soporte",
    "intake": {
        "nit": "900123456-7",
        "nombre-contacto": "Ana Ruiz",
        "correo-contacto": "ana@acme.example",
        "telefono-contacto": "+57 300 000 0000",
        "evidencia": {"name": "error.png", "media_type": "image/png"},
    },
}
ANA = "ana@acme.example"
LUCIA = "lucia@bitam.example"
PEDRO = "pedro@ikhodi.example"
IKHODI_DESK = "soporte@ikhodi.com.gt"  # level 1's group mailbox
SOFIA = "sofia@itac.example"
JUAN = "juan@btw.example"
SAC = "servicioalcliente@btw.com.co"  # BTW's supervisors


def acknowledged(title: str) -> tuple[str, str]:
    return (ANA, "[{case}] Recibimos su solicitud: " + title)


# -- 000 BITAM ------------------------------------------------------------------------------

BITAM_CHRISTMAS_AND_NEW_YEAR = Timeline(
    "000-bitam-alta-over-christmas-then-reopened-at-new-year",
    (
        # Thu 24 Dec 17:30 opened "Alta": first response and resolution within 2 business h
        # each. Desk closes 18:00 → 30 min used; Fri 25 Christmas (holiday), Sat 26, Sun 27
        # weekend; Mon 28 08:30 resumes; 1 h 30 left → due Mon 28 10:00 (both). Warnings at
        # 75 % (1 h 30): 30 min Thursday + 1 h Monday → Mon 28 09:30.
        Step(
            mx(12, 24, 17, 30),
            do=(opens({**BITAM, "priority": "alta"}), assign(LUCIA), START),
            clocks={
                "first_response": Clock("running", mx(12, 28, 10)),
                "resolution": Clock("running", mx(12, 28, 10)),
            },
            sla=(
                started("first_response", mx(12, 28, 10)),
                started("resolution", mx(12, 28, 10)),
            ),
            mail=(
                acknowledged("Reporte vacío"),
                (ANA, "[{case}] El ingeniero Lucia atiende su caso"),
            ),
            state="in_progress",
        ),
        # Mon 28 09:30: both warnings; the agent hears (BITAM's supervisors have no mailbox).
        Step(
            mx(12, 28, 9, 30),
            sla=(
                warning("first_response", mx(12, 28, 10)),
                warning("resolution", mx(12, 28, 10)),
            ),
            mail=(
                (LUCIA, "[{case}] Aviso SLA: primera respuesta vence lun, 28 dic 2026 10:00"),
                (LUCIA, "[{case}] Aviso SLA: resolución vence lun, 28 dic 2026 10:00"),
            ),
        ),
        # Mon 28 09:45: answered and solved, 15 minutes before both deadlines.
        Step(
            mx(12, 28, 9, 45),
            do=(ANSWER, SOLVED),
            clocks={
                "first_response": Clock("met", mx(12, 28, 10)),
                "resolution": Clock("met", mx(12, 28, 10)),
            },
            sla=(met("first_response", mx(12, 28, 10)), met("resolution", mx(12, 28, 10))),
            mail=(
                (ANA, "[{case}] Respuesta a su caso"),
                (ANA, "[{case}] Caso resuelto: confírmenos, por favor"),
            ),
            state="resolved",
        ),
        # Thu 31 Dec 17:00 the customer writes back within the 15 business days: reopened,
        # resolution cycle 2 from zero (on_reopen: restart). 2 h: Thursday 17:00–18:00 = 1 h;
        # Fri 1 Jan New Year (holiday), Sat 2, Sun 3 weekend; Mon 4 Jan 08:30 + 1 h → due
        # Mon 4 Jan 2027 09:30. Warning at 1 h 30: 1 h Thursday + 30 min → Mon 4 Jan 09:00.
        # The first response stays met (it does not restart).
        Step(
            mx(12, 31, 17),
            do=(CUSTOMER_WRITES_BACK,),
            clocks={
                "first_response": Clock("met", mx(12, 28, 10)),
                "resolution": Clock("running", mx(1, 4, 9, 30, year=2027), cycle=2),
            },
            sla=(started("resolution", mx(1, 4, 9, 30, year=2027), cycle=2),),
            state="in_progress",
        ),
        Step(
            mx(1, 4, 9, year=2027),
            sla=(warning("resolution", mx(1, 4, 9, 30, year=2027), cycle=2),),
            mail=((LUCIA, "[{case}] Aviso SLA: resolución vence lun, 4 ene 2027 9:30"),),
        ),
        Step(
            mx(1, 4, 9, 30, year=2027),
            clocks={"resolution": Clock("breached", mx(1, 4, 9, 30, year=2027), cycle=2)},
            sla=(breached("resolution", mx(1, 4, 9, 30, year=2027), cycle=2),),
            mail=((LUCIA, "[{case}] SLA incumplido: resolución"),),
        ),
    ),
)

BITAM_ABANDONED = Timeline(
    "000-bitam-media-paused-abandoned-resolved-then-closed",
    (
        # Mon 23 Nov 09:00 opened "Media": first response 4 business h → 13:00; resolution 24
        # business h: Mon 09:00–18:00 9 h; Tue 24 9.5 h (18.5); Wed 25 08:30 + 5.5 h → 14:00.
        Step(
            mx(11, 23, 9),
            do=(opens({**BITAM, "priority": "media"}), assign(LUCIA), START),
            clocks={
                "first_response": Clock("running", mx(11, 23, 13)),
                "resolution": Clock("running", mx(11, 25, 14)),
            },
            sla=(
                started("first_response", mx(11, 23, 13)),
                started("resolution", mx(11, 25, 14)),
            ),
            mail=(
                acknowledged("Reporte vacío"),
                (ANA, "[{case}] El ingeniero Lucia atiende su caso"),
            ),
        ),
        Step(
            mx(11, 23, 10),
            do=(ANSWER,),
            clocks={"first_response": Clock("met", mx(11, 23, 13))},
            sla=(met("first_response", mx(11, 23, 13)),),
            mail=((ANA, "[{case}] Respuesta a su caso"),),
        ),
        # Mon 23 Nov 11:00 the agent asks the customer: the resolution clock pauses with 2 h
        # used (a paused clock has no deadline). Abandonment after 7 calendar days of silence:
        # Mon 30 Nov 11:00, and the customer is told so.
        Step(
            mx(11, 23, 11),
            do=(ASK,),
            clocks={"resolution": Clock("paused", None)},
            sla=(paused("resolution"), abandonment(mx(11, 30, 11))),
            mail=(
                (ANA, "[{case}] Necesitamos información para continuar"),
                (ANA, "[{case}] Su caso se dará por resuelto el lun, 30 nov 2026 11:00"),
            ),
            state="awaiting_customer",
        ),
        # Mon 30 Nov 11:00: sla-monitor resolves it as abandoned; the resolution clock is met
        # while paused, so with no deadline (sla.met v2). The close: 15 business days of 9.5 h
        # from Mon 30 11:00 — each business day lands on the next day's 11:00: Dec 1–4 (4),
        # 7–11 (9), 14–18 (14), Mon 21 (15) → Mon 21 Dec 11:00. No Mexican holiday between.
        Step(
            mx(11, 30, 11),
            clocks={"resolution": Clock("met", None)},
            sla=(met("resolution", None), abandonment(mx(12, 21, 11))),
            mail=(
                (ANA, "[{case}] Caso resuelto por falta de respuesta"),
                (ANA, "[{case}] Su caso se cerrará el lun, 21 dic 2026 11:00"),
            ),
            monitor=("ticket.resolved",),
            state="resolved",
        ),
        # The notice: 2 business days before the close = 13 business days after Mon 30 11:00
        # → Thu 17 Dec 11:00, inside desk hours.
        Step(mx(12, 17, 10, 59), state="resolved"),
        Step(
            mx(12, 17, 11),
            sla=(abandonment(mx(12, 21, 11)),),
            mail=((ANA, "[{case}] Su caso se cerrará el lun, 21 dic 2026 11:00"),),
        ),
        Step(mx(12, 21, 10, 59), state="resolved"),
        Step(
            mx(12, 21, 11),
            clocks={"resolution": Clock("met", None)},
            mail=((ANA, "[{case}] Caso cerrado"),),
            monitor=("ticket.closed",),
            state="closed",
        ),
    ),
)

# -- 001 iKhodi -----------------------------------------------------------------------------

IKHODI_RECLASSIFIED = Timeline(
    "001-ikhodi-p3-friday-afternoon-weekend-reclassified-p4",
    (
        # Fri 27 Nov 16:30 opened P3: first response 1 business h: 16:30–17:00 = 30 min; Sat
        # 28, Sun 29; Mon 30 08:00 + 30 min → Mon 30 08:30. Resolution 24 business h: Fri
        # 0.5 h; Mon 30 9 h (9.5); Tue 1 Dec 9 h (18.5); Wed 2 08:00 + 5.5 h → Wed 2 13:30.
        Step(
            gt(11, 27, 16, 30),
            do=(opens({**IKHODI, "priority": "p3"}), assign(PEDRO)),
            clocks={
                "first_response": Clock("running", gt(11, 30, 8, 30)),
                "resolution": Clock("running", gt(12, 2, 13, 30)),
            },
            sla=(
                started("first_response", gt(11, 30, 8, 30)),
                started("resolution", gt(12, 2, 13, 30)),
            ),
            mail=(acknowledged("Error al facturar"),),
        ),
        # Fri 17:00 closing time: half the first response used (50 % warning): the agent and
        # level 1 (Soporte técnico) hear; the supervisors' group has no mailbox.
        Step(
            gt(11, 27, 17),
            sla=(warning("first_response", gt(11, 30, 8, 30)),),
            mail=(
                (PEDRO, "[{case}] Aviso SLA: primera respuesta vence lun, 30 nov 2026 8:30"),
                (IKHODI_DESK, "[{case}] Aviso SLA: primera respuesta vence lun, 30 nov 2026 8:30"),
            ),
        ),
        # Mon 30 Nov 08:15, 45 min used (30 Friday + 15 Monday), reclassified P4: the used time
        # stays. First response 4 h: 3 h 15 left → Mon 30 11:30. Resolution 3 business days =
        # 27 h: 26 h 15 left: Mon 08:15–17:00 8 h 45 (9 h 30 used); Tue 1 9 h (18 h 30);
        # Wed 2 08:00 + 8 h 30 → Wed 2 Dec 16:30.
        Step(
            gt(11, 30, 8, 15),
            do=(reclassify(priority="p4"),),
            clocks={
                "first_response": Clock("running", gt(11, 30, 11, 30)),
                "resolution": Clock("running", gt(12, 2, 16, 30)),
            },
            sla=(
                recomputed("first_response", gt(11, 30, 11, 30)),
                recomputed("resolution", gt(12, 2, 16, 30)),
            ),
        ),
        # P4's 50 % of 4 h = 2 h: 45 min used at 08:15, 1 h 15 more → Mon 30 09:30.
        Step(
            gt(11, 30, 9, 30),
            sla=(warning("first_response", gt(11, 30, 11, 30)),),
            mail=(
                (PEDRO, "[{case}] Aviso SLA: primera respuesta vence lun, 30 nov 2026 11:30"),
                (IKHODI_DESK, "[{case}] Aviso SLA: primera respuesta vence lun, 30 nov 2026 11:30"),
            ),
        ),
        Step(
            gt(11, 30, 10),
            do=(ANSWER,),
            clocks={"first_response": Clock("met", gt(11, 30, 11, 30))},
            sla=(met("first_response", gt(11, 30, 11, 30)),),
            mail=((ANA, "[{case}] Respuesta a su caso"),),
        ),
        # Resolution at 50 % = 13 h 30: Fri 0.5 h; Mon 9 h (9.5); Tue 08:00 + 4 h → Tue 1 12:00.
        Step(
            gt(12, 1, 12),
            sla=(warning("resolution", gt(12, 2, 16, 30)),),
            mail=(
                (PEDRO, "[{case}] Aviso SLA: resolución vence mié, 2 dic 2026 16:30"),
                (IKHODI_DESK, "[{case}] Aviso SLA: resolución vence mié, 2 dic 2026 16:30"),
            ),
        ),
        Step(
            gt(12, 1, 15),
            do=(START, SOLVED),
            clocks={"resolution": Clock("met", gt(12, 2, 16, 30))},
            sla=(met("resolution", gt(12, 2, 16, 30)),),
            mail=(
                (ANA, "[{case}] Su caso está en curso"),
                (ANA, "[{case}] Caso resuelto: confírmenos, por favor"),
            ),
            state="resolved",
        ),
    ),
)

IKHODI_CHRISTMAS_PAUSE_REOPEN = Timeline(
    "001-ikhodi-p4-christmas-paused-then-reopened-at-new-year",
    (
        # Thu 24 Dec 15:00 opened P4. First response 4 business h: Thu 15:00–17:00 2 h; Fri 25
        # Christmas (holiday); Sat 26, Sun 27; Mon 28 08:00 + 2 h → Mon 28 10:00. Resolution 3
        # business days = 27 h: Thu 2 h; Mon 28 9 h (11); Tue 29 9 h (20); Wed 30 08:00 + 7 h
        # → Wed 30 Dec 15:00.
        Step(
            gt(12, 24, 15),
            do=(opens({**IKHODI, "priority": "p4"}), assign(PEDRO), START),
            clocks={
                "first_response": Clock("running", gt(12, 28, 10)),
                "resolution": Clock("running", gt(12, 30, 15)),
            },
            sla=(
                started("first_response", gt(12, 28, 10)),
                started("resolution", gt(12, 30, 15)),
            ),
            mail=(acknowledged("Error al facturar"), (ANA, "[{case}] Su caso está en curso")),
        ),
        # First response at 50 % (2 h) = Thu 24 17:00, closing time.
        Step(
            gt(12, 24, 17),
            sla=(warning("first_response", gt(12, 28, 10)),),
            mail=(
                (PEDRO, "[{case}] Aviso SLA: primera respuesta vence lun, 28 dic 2026 10:00"),
                (IKHODI_DESK, "[{case}] Aviso SLA: primera respuesta vence lun, 28 dic 2026 10:00"),
            ),
        ),
        Step(
            gt(12, 28, 9),
            do=(ANSWER,),
            clocks={"first_response": Clock("met", gt(12, 28, 10))},
            sla=(met("first_response", gt(12, 28, 10)),),
            mail=((ANA, "[{case}] Respuesta a su caso"),),
        ),
        # Mon 28 10:00 the agent asks the customer: resolution paused with Thu 2 h + Mon 2 h
        # = 4 h used.
        Step(
            gt(12, 28, 10),
            do=(ASK,),
            clocks={"resolution": Clock("paused", None)},
            sla=(paused("resolution"),),
            state="awaiting_customer",
        ),
        # Mon 28 14:00 the customer answers: 23 h left: Mon 14:00–17:00 3 h; Tue 29 9 h; Wed
        # 30 9 h (21); Thu 31 08:00 + 2 h → Thu 31 Dec 10:00.
        Step(
            gt(12, 28, 14),
            do=(CUSTOMER_ANSWERS,),
            clocks={"resolution": Clock("running", gt(12, 31, 10))},
            sla=(resumed("resolution", gt(12, 31, 10)),),
            state="in_progress",
        ),
        # Resolution at 50 % = 13 h 30: 4 h used at Mon 14:00, + 9 h 30: Mon 3 h; Tue 29
        # 08:00 + 6 h 30 → Tue 29 14:30. Solved at 16:00.
        Step(
            gt(12, 29, 16),
            do=(SOLVED,),
            clocks={"resolution": Clock("met", gt(12, 31, 10))},
            sla=(warning("resolution", gt(12, 31, 10)), met("resolution", gt(12, 31, 10))),
            mail=(
                (PEDRO, "[{case}] Aviso SLA: resolución vence jue, 31 dic 2026 10:00"),
                (IKHODI_DESK, "[{case}] Aviso SLA: resolución vence jue, 31 dic 2026 10:00"),
                (ANA, "[{case}] Caso resuelto: confírmenos, por favor"),
            ),
            state="resolved",
        ),
        # Thu 31 Dec 16:00 the customer writes back: reopened, resolution cycle 2 from zero:
        # 27 h: Thu 16:00–17:00 1 h; Fri 1 Jan New Year (holiday); Sat 2, Sun 3; Mon 4 9 h
        # (10); Tue 5 9 h (19); Wed 6 08:00 + 8 h → Wed 6 Jan 2027 16:00. The new cycle has
        # used nothing: no reason to escalate (level 2 comes at 75 % of the resolution time).
        Step(
            gt(12, 31, 16),
            do=(CUSTOMER_WRITES_BACK,),
            clocks={
                "first_response": Clock("met", gt(12, 28, 10)),
                "resolution": Clock("running", gt(1, 6, 16, year=2027), cycle=2),
            },
            sla=(started("resolution", gt(1, 6, 16, year=2027), cycle=2),),
            state="in_progress",
        ),
        # Cycle 2 at 50 % = 13 h 30: Thu 1 h; Mon 4 9 h (10); Tue 5 08:00 + 3 h 30 → 11:30.
        Step(
            gt(1, 5, 11, 30, year=2027),
            sla=(warning("resolution", gt(1, 6, 16, year=2027), cycle=2),),
            mail=(
                (PEDRO, "[{case}] Aviso SLA: resolución vence mié, 6 ene 2027 16:00"),
                (IKHODI_DESK, "[{case}] Aviso SLA: resolución vence mié, 6 ene 2027 16:00"),
            ),
        ),
        Step(
            gt(1, 5, 12, year=2027),
            do=(SOLVED,),
            clocks={"resolution": Clock("met", gt(1, 6, 16, year=2027), cycle=2)},
            sla=(met("resolution", gt(1, 6, 16, year=2027), cycle=2),),
            mail=((ANA, "[{case}] Caso resuelto: confírmenos, por favor"),),
            state="resolved",
        ),
    ),
)

# -- 003 ITAC -------------------------------------------------------------------------------

ITAC_HOLIDAY_MONDAY = Timeline(
    "003-itac-8x5-importante-weekend-paused-answered-on-a-holiday",
    (
        # Fri 13 Nov 16:00 opened "Importante" on 8x5: first response 4 business h: Fri
        # 16:00–18:00 2 h; Sat 14, Sun 15; Mon 16 holiday (Independence of Cartagena, observed);
        # Tue 17 08:00 + 2 h → Tue 17 Nov 10:00.
        Step(
            co(11, 13, 16),
            do=(opens({**ITAC, "priority": "importante", "modality": "8x5"}),),
            clocks={"first_response": Clock("running", co(11, 17, 10))},
            sla=(started("first_response", co(11, 17, 10)),),
            mail=(acknowledged("Falla en FOX"),),
        ),
        Step(co(11, 13, 16, 10), do=(assign(SOFIA), START), state="in_progress"),
        # Fri 17:00 the agent asks for logs before answering: the clock pauses (ITAC keeps the
        # policy format's default, pause while awaiting the customer) with 1 h used. ITAC
        # routes every SLA event to the assigned agent (its supervisors have no mailbox).
        Step(
            co(11, 13, 17),
            do=(ASK,),
            clocks={"first_response": Clock("paused", None)},
            sla=(paused("first_response"),),
            mail=((SOFIA, "[{case}] SLA: primera respuesta"),),
            state="awaiting_customer",
        ),
        # Mon 16 Nov 10:00, the holiday, the customer sends the logs: the clock runs again but
        # counts nothing until the desk opens. 3 h left: Tue 17 08:00 + 3 h → Tue 17 11:00.
        # Warning at 75 % (3 h): 1 h used, 2 h more → Tue 17 10:00.
        Step(
            co(11, 16, 10),
            do=(CUSTOMER_ANSWERS,),
            clocks={"first_response": Clock("running", co(11, 17, 11))},
            sla=(resumed("first_response", co(11, 17, 11)),),
            mail=((SOFIA, "[{case}] SLA: primera respuesta"),),
            state="in_progress",
        ),
        Step(
            co(11, 17, 10),
            sla=(warning("first_response", co(11, 17, 11)),),
            mail=((SOFIA, "[{case}] Aviso SLA: primera respuesta vence mar, 17 nov 2026 11:00"),),
        ),
        Step(
            co(11, 17, 10, 30),
            do=(ANSWER,),
            clocks={"first_response": Clock("met", co(11, 17, 11))},
            sla=(met("first_response", co(11, 17, 11)),),
            mail=(
                (ANA, "[{case}] Respuesta a su caso"),
                (SOFIA, "[{case}] SLA: primera respuesta"),
            ),
        ),
    ),
)

ITAC_RAISED_TO_CRITICAL = Timeline(
    "003-itac-24x7-normal-saturday-night-raised-to-critico-breached",
    (
        # Sat 5 Dec 22:00 opened "Normal" on 24x7: 8 h on an always-open calendar → Sun 6
        # 06:00. (Warning at 75 %: Sun 6 04:00.)
        Step(
            co(12, 5, 22),
            do=(opens({**ITAC, "priority": "normal", "modality": "24x7"}),),
            clocks={"first_response": Clock("running", co(12, 6, 6))},
            sla=(started("first_response", co(12, 6, 6)),),
            mail=(acknowledged("Falla en FOX"),),
        ),
        Step(co(12, 5, 22, 5), do=(assign(SOFIA),)),
        # Sat 23:00, 1 h used, raised to "Crítico" (2 h, calendar time): 1 h left → Sun 6
        # 00:00. Warning at 75 % (1 h 30) → Sat 23:30.
        Step(
            co(12, 5, 23),
            do=(reclassify(priority="critico"),),
            clocks={"first_response": Clock("running", co(12, 6, 0))},
            sla=(recomputed("first_response", co(12, 6, 0)),),
            mail=((SOFIA, "[{case}] SLA: primera respuesta"),),
        ),
        Step(
            co(12, 5, 23, 30),
            sla=(warning("first_response", co(12, 6, 0)),),
            mail=((SOFIA, "[{case}] Aviso SLA: primera respuesta vence dom, 6 dic 2026 0:00"),),
        ),
        Step(
            co(12, 6, 0),
            clocks={"first_response": Clock("breached", co(12, 6, 0))},
            sla=(breached("first_response", co(12, 6, 0)),),
            mail=((SOFIA, "[{case}] SLA incumplido: primera respuesta"),),
        ),
        # Sun 00:30 answered, 30 minutes late.
        Step(
            co(12, 6, 0, 30),
            do=(ANSWER,),
            clocks={"first_response": Clock("met", co(12, 6, 0))},
            sla=(met("first_response", co(12, 6, 0)),),
            mail=(
                (ANA, "[{case}] Respuesta a su caso"),
                (SOFIA, "[{case}] SLA: primera respuesta"),
            ),
        ),
    ),
)

# -- 004 BTW --------------------------------------------------------------------------------

BTW_ABANDONED_AFTER_FOUR_ATTEMPTS = Timeline(
    "004-btw-p2-starts-at-assignment-holiday-pause-four-attempts",
    (
        # Mon 7 Dec 10:00 opened (Error XML → P2): BTW's clock waits for the assignment.
        Step(
            co(12, 7, 10),
            do=(opens({**BTW, "subcategory": "error-xml"}),),
            clocks={"resolution": Clock("pending", None)},
            mail=(acknowledged("XML rechazado"),),
        ),
        # Mon 7 Dec 11:00 assigned: 72 business h from now: Mon 11:00–18:00 7 h; Tue 8
        # holiday (Immaculate Conception); Wed 9 10.5 h (17.5); Thu 10 10.5 h (28); Fri 11
        # 10 h (38); Mon 14 10.5 h (48.5); Tue 15 10.5 h (59); Wed 16 10.5 h (69.5); Thu 17
        # 07:30 + 2.5 h → Thu 17 Dec 10:00.
        Step(
            co(12, 7, 11),
            do=(assign(JUAN), START),
            clocks={"resolution": Clock("running", co(12, 17, 10))},
            sla=(started("resolution", co(12, 17, 10)),),
            mail=((ANA, "[{case}] El ingeniero Juan atiende su caso"),),
        ),
        # Wed 9 Dec 08:30 the engineer asks for the full XML: paused with Mon 7 h + Wed 1 h =
        # 8 h used.
        Step(
            co(12, 9, 8, 30),
            do=(ASK,),
            clocks={"resolution": Clock("paused", None)},
            sla=(paused("resolution"),),
            state="awaiting_customer",
        ),
        Step(
            co(12, 9, 10),
            do=(CALLED,),
            mail=((ANA, "[{case}] Necesitamos información para continuar"),),
        ),
        Step(
            co(12, 10, 10),
            do=(CALLED,),
            mail=((ANA, "[{case}] Necesitamos información para continuar"),),
        ),
        Step(
            co(12, 11, 10),
            do=(CALLED,),
            mail=((ANA, "[{case}] Necesitamos información para continuar"),),
            state="awaiting_customer",
        ),
        # Mon 14 Dec 10:00 the fourth unanswered attempt: the close is announced for now
        # (abandonment warning, step close), and sla-monitor closes the case at once. The
        # resolution clock stops unmet (no longer applies) and says nothing more.
        Step(
            co(12, 14, 10),
            do=(CALLED,),
            clocks={"resolution": Clock("not_applicable", None)},
            sla=(abandonment(co(12, 14, 10)),),
            mail=(
                (ANA, "[{case}] Necesitamos información para continuar"),
                (ANA, "[{case}] Caso cerrado"),
            ),
            monitor=("ticket.closed",),
            state="closed",
        ),
    ),
)

BTW_RECLASSIFIED_REOPENED = Timeline(
    "004-btw-p3-reclassified-p2-over-weekend-and-holiday-reopened-breached",
    (
        # Fri 4 Dec 16:00 opened (format change → P3) and assigned at once: 120 business h:
        # Fri 16:00–17:00 1 h; Mon 7 10.5 (11.5); Tue 8 holiday; Wed 9 (22); Thu 10 (32.5);
        # Fri 11 10 (42.5); Mon 14 (53); Tue 15 (63.5); Wed 16 (74); Thu 17 (84.5); Fri 18 10
        # (94.5); Mon 21 (105); Tue 22 (115.5); Wed 23 07:30 + 4.5 h → Wed 23 Dec 12:00.
        Step(
            co(12, 4, 16),
            do=(opens({**BTW, "subcategory": "cambios-lineas-formato"}), assign(JUAN)),
            clocks={"resolution": Clock("running", co(12, 23, 12))},
            sla=(started("resolution", co(12, 23, 12)),),
            mail=(
                acknowledged("XML rechazado"),
                (ANA, "[{case}] El ingeniero Juan atiende su caso"),
            ),
        ),
        # Mon 7 Dec 08:30 reclassified to "Error XML" (P2, 72 h) with 2 h used (Fri 1 h + Mon
        # 07:30–08:30): 70 h left: Mon 08:30–18:00 9.5 (11.5); Tue 8 holiday; Wed 9 (22); Thu
        # 10 (32.5); Fri 11 10 (42.5); Mon 14 (53); Tue 15 (63.5); Wed 16 07:30 + 8.5 h →
        # Wed 16 Dec 16:00.
        Step(
            co(12, 7, 8, 30),
            do=(reclassify(subcategory="error-xml"),),
            clocks={"resolution": Clock("running", co(12, 16, 16))},
            sla=(recomputed("resolution", co(12, 16, 16)),),
        ),
        Step(
            co(12, 10, 12),
            do=(START, SOLVED),
            clocks={"resolution": Clock("met", co(12, 16, 16))},
            sla=(met("resolution", co(12, 16, 16)),),
            mail=((ANA, "[{case}] Caso resuelto: confírmenos, por favor"),),
            state="resolved",
        ),
        # Fri 11 Dec 16:00 the customer asks to reopen: resolution cycle 2, 72 h from zero:
        # Fri 16:00–17:00 1 h; Mon 14 10.5 (11.5); Tue 15 (22); Wed 16 (32.5); Thu 17 (43);
        # Fri 18 10 (53); Mon 21 (63.5); Tue 22 07:30 + 8.5 h → Tue 22 Dec 16:00. Warning at
        # 75 % (54 h): 53 h by Fri 18 17:00; Mon 21 07:30 + 1 h → Mon 21 Dec 08:30.
        Step(
            co(12, 11, 16),
            do=(Do("reopen", {"reason": "El XML sigue rechazado"}, "customer"),),
            clocks={"resolution": Clock("running", co(12, 22, 16), cycle=2)},
            sla=(started("resolution", co(12, 22, 16), cycle=2),),
            mail=((ANA, "[{case}] Su caso está en curso"),),
            state="in_progress",
        ),
        Step(
            co(12, 21, 8, 30),
            sla=(warning("resolution", co(12, 22, 16), cycle=2),),
            mail=(
                (JUAN, "[{case}] Aviso SLA: resolución vence mar, 22 dic 2026 16:00"),
                (SAC, "[{case}] Aviso SLA: resolución vence mar, 22 dic 2026 16:00"),
            ),
        ),
        Step(
            co(12, 22, 16),
            clocks={"resolution": Clock("breached", co(12, 22, 16), cycle=2)},
            sla=(breached("resolution", co(12, 22, 16), cycle=2),),
            mail=(
                (JUAN, "[{case}] SLA incumplido: resolución"),
                (SAC, "[{case}] SLA incumplido: resolución"),
            ),
        ),
    ),
)

TIMELINES = [
    BITAM_CHRISTMAS_AND_NEW_YEAR,
    BITAM_ABANDONED,
    IKHODI_RECLASSIFIED,
    IKHODI_CHRISTMAS_PAUSE_REOPEN,
    ITAC_HOLIDAY_MONDAY,
    ITAC_RAISED_TO_CRITICAL,
    BTW_ABANDONED_AFTER_FOUR_ATTEMPTS,
    BTW_RECLASSIFIED_REOPENED,
]


# -- the replay -----------------------------------------------------------------------------


@pytest.fixture
def timeline(request: pytest.FixtureRequest) -> Timeline:
    value: Timeline = request.param
    return value


@pytest.fixture
def desk(
    timeline: Timeline, nats_server: NatsServer, postgres_env: dict[str, str], tmp_path: Path
) -> Iterator[Desk]:
    start = timeline.steps[0].at
    with running_system(nats_server, postgres_env, tmp_path, notifier=True, start=start) as system:
        yield Desk(system)


def differences(label: str, expected: Counter[Any], got: Counter[Any]) -> list[str]:
    missing, extra = expected - got, got - expected
    found = []
    if missing:
        found.append(f"{label}: missing {sorted(missing.elements(), key=repr)}")
    if extra:
        found.append(f"{label}: unexpected {sorted(extra.elements(), key=repr)}")
    return found


def check(desk: Desk, ticket: str, case: str, step: Step) -> list[str]:
    """Every difference between what the step expects and what the services show."""
    found: list[str] = []
    clocks = desk.clocks(case)
    for metric, want in step.clocks.items():
        clock = clocks[metric]
        got = Clock(clock["status"], instant(clock["deadline"]), clock["cycle"])
        if got != want:
            found.append(f"{metric} clock: expected {want}, got {got}")
    sla = [e for e in desk.new_sla_events() if e.ticket_id == ticket]
    found += differences("SLA events", Counter(step.sla), Counter(e.short for e in sla))
    mail = Counter((address(m), subject(m)) for m in desk.new_mail())
    wanted = Counter((to, text.format(case=case)) for to, text in step.mail)
    found += differences("mail", wanted, mail)
    by_monitor = [e["type"] for e in desk.new_history(ticket) if e["actor"]["id"] == "sla-monitor"]
    if by_monitor != list(step.monitor):
        found.append(f"sla-monitor's ticket events: expected {step.monitor}, got {by_monitor}")
    if step.state is not None:
        state = desk.system.ticket_api.get(f"/v1/tickets/{ticket}", headers=AGENT).json()["state"]
        if state != step.state:
            found.append(f"ticket state: expected {step.state}, got {state}")
    return found


@pytest.mark.parametrize("timeline", TIMELINES, ids=[t.name for t in TIMELINES], indirect=True)
def test_a_seed_policy_timeline_replays_through_the_running_services(
    timeline: Timeline, desk: Desk
) -> None:
    ticket = case = ""
    problems: list[str] = []
    for number, step in enumerate(timeline.steps, 1):
        desk.at(step.at)
        for do in step.do:
            if do.command == "open":
                ticket, case = desk.open(dict(do.body), do.who)
            else:
                desk.act(ticket, do.command, dict(do.body), do.who)
            desk.settle()
        when = step.at.isoformat(timespec="minutes")
        problems += [f"step {number} ({when}): {p}" for p in check(desk, ticket, case, step)]
    assert not problems, "\n".join(problems)
