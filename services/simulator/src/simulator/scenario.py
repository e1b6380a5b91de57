"""Who asks for what, and how people behave: the five seed desks as traffic, drawn from a seed.

Each desk (one seed policy) has its arrival profile in its own zone, its mix of priorities and
ticket types (BTW's priority follows from the subcategory, as its policy says), the share of
requests that come by email, and a team of agents with shifts and a capacity. Each ticket gets
a ``TicketPlan``: how long its agent takes to answer and to solve it, whether the customer is
asked for information and answers late or never (000's abandonment, 004's four attempts),
whether its priority changes, whether it is reopened. The plan of ticket *n* is drawn from its
own ``random.Random`` seeded with (seed, desk, n), so a plan never depends on the order in
which the running system made the simulator act — the same seed gives the same schedule.

Pure: no I/O.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from simulator.arrivals import Profile, arrivals

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Desk:
    """One seed policy as traffic."""

    policy: str
    profile: Profile
    priorities: dict[str, float]
    """Priority → weight (ignored where ``subcategories`` decide it)."""
    types: dict[str, float]
    email_share: float
    email_to: str | None
    tenants: int = 3
    agents_per_10_daily: float = 1.2
    """Agents on the team per 10 requests a day (at least two)."""
    day_shift: tuple[int, int] = (8, 18)
    on_call: bool = False
    """One more agent covers nights and weekends (the 24/7 lines of 001, 003 and 004)."""
    subcategories: dict[str, float] = field(default_factory=dict)
    feature_type: str | None = None
    intake: dict[str, object] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)
    modalities: dict[str, float] = field(default_factory=dict)


DESKS = (
    Desk(
        "bitam",
        Profile("America/Mexico_City", 55),
        {"urgente": 8, "alta": 20, "media": 45, "baja": 27},
        {
            "soporte": 50,
            "error": 25,
            "actividad": 6,
            "setup": 5,
            "consultoria": 6,
            "nuevo-requerimiento": 8,
        },
        0.4,
        "soporte@bitam.com",
        day_shift=(8, 18),
        feature_type="nuevo-requerimiento",
        extra={"product": "ebavel", "product_version": "6.6"},
    ),
    Desk(
        "ikhodi",
        Profile("America/Guatemala", 45),
        {"p1": 5, "p2": 20, "p3": 45, "p4": 30},
        {
            "problemas-basicos": 35,
            "configuracion-mantenimiento": 20,
            "consultas-funcionalidad": 25,
            "orientacion-integraciones": 10,
            "actualizaciones-mejoras": 10,
        },
        0.35,
        "soporte@ikhodi.com.gt",
        day_shift=(8, 17),
        on_call=True,
    ),
    Desk(
        "proditma",
        Profile("America/Mexico_City", 35),
        {"alta": 15, "media": 50, "baja": 35},
        {"incidente": 60, "solicitud-apoyo": 40},
        0.3,
        "mesadeayuda@proditmapac.com",
    ),
    Desk(
        "itac",
        Profile("America/Bogota", 35),
        {"critico": 7, "importante": 33, "normal": 60},
        {"incidente": 70, "solicitud": 30},
        0.0,
        None,
        on_call=True,
        modalities={"8x5": 70, "24x7": 30},
        intake={
            "ambientes": "producción",
            "versiones-componentes": "FOX 1.4.2.3",
            "contactos": "Mesa de ayuda del cliente",
        },
    ),
    Desk(
        "btw",
        Profile("America/Bogota", 50),
        {},
        {"soporte": 90, "implementacion": 10},
        0.45,
        "soporte@btw.com.co",
        day_shift=(7, 18),
        on_call=True,
        subcategories={
            "error-500-dian": 3,
            "error-firma-digital": 2,
            "error-servicio-btw": 2,
            "error-xml": 14,
            "error-credenciales": 8,
            "error-parametrizacion": 8,
            "diferencia-valores-dian": 5,
            "cambios-lineas-formato": 14,
            "modificaciones-formato": 12,
            "capacitacion-instalaciones": 10,
        },
        intake={
            "nit": "900123456-7",
            "nombre-contacto": "Contacto",
            "correo-contacto": "contacto@cliente.example",
            "telefono-contacto": "+57 300 000 0000",
            "evidencia": {"name": "error.png", "media_type": "image/png"},
        },
    ),
)
URGENCY = {
    "urgente": 0,
    "p1": 0,
    "critico": 0,
    "alta": 1,
    "p2": 1,
    "importante": 1,
    "media": 2,
    "p3": 2,
    "normal": 2,
    "baja": 3,
    "p4": 3,
    "implementacion": 3,
}
"""How soon an agent takes a ticket of each priority (0 first); also scales working times."""


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    policy: str
    zone: str
    weekdays: frozenset[int]
    hours: tuple[int, int]
    """Local [start, end) hours; end < start wraps past midnight (the night shift)."""
    capacity: int = 6

    def on_shift(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.zone))
        start, end = self.hours
        if start < end:
            return local.weekday() in self.weekdays and start <= local.hour < end
        return local.weekday() in self.weekdays and (local.hour >= start or local.hour < end)


def team(desk: Desk, load: float) -> list[Agent]:
    """The desk's agents: day agents Monday to Friday, plus on-call ones if it runs 24/7."""
    count = max(2, round(desk.profile.per_day * load / 10 * desk.agents_per_10_daily))
    zone = desk.profile.time_zone
    agents = [
        Agent(
            f"sim-{desk.policy}-a{i}",
            f"Agente {i} {desk.policy}",
            desk.policy,
            zone,
            frozenset(range(5)),
            desk.day_shift,
        )
        for i in range(1, count + 1)
    ]
    if desk.on_call:
        agents.append(
            Agent(
                f"sim-{desk.policy}-night",
                f"Guardia {desk.policy}",
                desk.policy,
                zone,
                frozenset(range(7)),
                (desk.day_shift[1], desk.day_shift[0]),
            )
        )
        agents.append(
            Agent(
                f"sim-{desk.policy}-weekend",
                f"Fin de semana {desk.policy}",
                desk.policy,
                zone,
                frozenset({5, 6}),
                desk.day_shift,
            )
        )
    return agents


@dataclass(frozen=True)
class TicketPlan:
    """One request and how the people around it will behave."""

    key: str
    """``<policy>-<n>``: unique within a run, stable for a seed."""
    policy: str
    at: datetime
    tenant: int
    contact: int
    channel: str
    """``email`` (SMTP intake) or ``api`` (REST)."""
    ticket_type: str
    priority: str | None
    subcategory: str | None
    modality: str | None
    first_reply: timedelta
    """Agent working time from assignment to the first public reply."""
    work: timedelta
    """Agent working time from the first reply (or the customer's answer) to the resolution."""
    ask_customer: bool
    customer_delay: timedelta | None
    """How long the customer takes to answer a request for information; None: never."""
    new_priority: str | None
    reopen_after: timedelta | None
    confirm_after: timedelta | None
    """The customer confirms the solution (the ticket is closed) after this; None: never."""
    feature_review_after: timedelta | None


def plan_ticket(desk: Desk, seed: int, n: int, at: datetime) -> TicketPlan:
    rng = random.Random(f"{seed}:{desk.policy}:{n}")
    ticket_type = pick(rng, desk.types)
    subcategory = pick(rng, desk.subcategories) if desk.subcategories else None
    priority = None if desk.subcategories else pick(rng, desk.priorities)
    if ticket_type == "implementacion":
        subcategory, priority = None, None  # its own class with its own time (004)
    urgency = URGENCY.get(priority, 2) if priority else subcategory_urgency(subcategory)
    scale = (0.3, 0.6, 1.0, 1.6)[urgency]
    feature = ticket_type == desk.feature_type
    email = desk.email_to is not None and rng.random() < desk.email_share and not feature
    ask = rng.random() < 0.3 and not feature
    silent = rng.random() < 0.15
    own = [p for p in desk.priorities if p != priority]
    return TicketPlan(
        key=f"{desk.policy}-{n}",
        policy=desk.policy,
        at=at,
        tenant=rng.randrange(desk.tenants),
        contact=rng.randrange(2),
        channel="email" if email else "api",
        ticket_type=ticket_type,
        priority=priority,
        subcategory=subcategory,
        modality=pick(rng, desk.modalities) if desk.modalities else None,
        first_reply=MINUTE * round(rng.lognormvariate(3.4, 0.7) * scale),
        work=MINUTE * round(rng.lognormvariate(4.8, 0.9) * scale),
        ask_customer=ask,
        customer_delay=None if silent else MINUTE * round(rng.expovariate(1 / 600)),
        new_priority=rng.choice(own) if own and rng.random() < 0.06 else None,
        reopen_after=MINUTE * round(rng.uniform(60, 1800)) if rng.random() < 0.07 else None,
        confirm_after=MINUTE * round(rng.expovariate(1 / 900)) if rng.random() < 0.6 else None,
        feature_review_after=timedelta(days=rng.uniform(1, 9)) if feature else None,
    )


def subcategory_urgency(subcategory: str | None) -> int:
    """004's subcategories decide the priority: the DIAN, signature and service errors are P1,
    the other errors P2, format changes and training P3."""
    if subcategory in ("error-500-dian", "error-firma-digital", "error-servicio-btw", "error-ip"):
        return 0
    return 1 if subcategory and subcategory.startswith(("error", "diferencia")) else 2


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    (choice,) = rng.choices(list(weights), weights=list(weights.values()))
    return choice


def schedule(seed: int, start: date, days: int, load: float) -> list[TicketPlan]:
    """Every request of the run, in arrival order: the same for the same arguments."""
    plans: list[TicketPlan] = []
    for desk in DESKS:
        rng = random.Random(f"{seed}:{desk.policy}:arrivals")
        for n, at in enumerate(arrivals(desk.profile, start, days, rng, load=load)):
            plans.append(plan_ticket(desk, seed, n, at))
    return sorted(plans, key=lambda p: (p.at, p.key))
