"""A receipt as people read it: JSON for tools, a plain-text table for a mail or a dispute.

Spanish by default, English on request, as the rest of the read API. Instants are given in the
policy's local time (its business calendar's zone) and in UTC, because a dispute is argued in
the office's hours but checked against logs in UTC. Durations are ``H:MM:SS`` (hours may pass
24: business time is not days), with the microseconds when there are any, so the printed total
is exactly the clock's used time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts.events import Actor
from contracts.vocabulary import Metric, TicketState
from sla_monitor.clocks import ClockStatus
from sla_monitor.receipt import CycleReceipt, Receipt
from sla_monitor.receipt_lines import Counted, Line, Retarget, Skipped, Why

METRIC_NAMES = {
    Metric.FIRST_RESPONSE: ("Primera respuesta", "First response"),
    Metric.RESOLUTION: ("Solución", "Resolution"),
    Metric.UPDATE: ("Aviso de avance", "Progress update"),
    Metric.DECISION: ("Decisión sobre el requerimiento", "Feature request decision"),
}
STATUS_NAMES = {
    ClockStatus.RUNNING: ("en curso", "running"),
    ClockStatus.PAUSED: ("en pausa", "paused"),
    ClockStatus.MET: ("cumplido", "met"),
    ClockStatus.BREACHED: ("vencido", "breached"),
    ClockStatus.PENDING: ("pendiente", "pending"),
    ClockStatus.NOT_APPLICABLE: ("detenido sin cumplirse", "stopped unmet"),
}
WHY_NAMES = {
    Why.NIGHT: ("fuera del horario (noche)", "outside hours (night)"),
    Why.WEEKEND: ("fin de semana", "weekend"),
    Why.DAY_OFF: ("día sin horario", "no hours that day"),
    Why.HOLIDAY: ("feriado", "holiday"),
    Why.VENDOR_CLOSURE: ("cierre del proveedor", "vendor closure"),
    Why.PAUSE: ("pausa", "paused"),
    Why.NO_TARGET: (
        "sin objetivo para esta prioridad o tipo",
        "no target for this priority or type",
    ),
}
PAUSED_BY = {
    TicketState.AWAITING_CUSTOMER: (
        "esperando al cliente; lo pidió",
        "awaiting the customer; asked by",
    ),
    TicketState.RESOLVED: ("ticket resuelto por", "ticket resolved by"),
}
WEEKDAYS = (
    ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
    ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
)
WORDS = {
    "title": ("Recibo de SLA", "SLA receipt"),
    "policy": ("política", "policy"),
    "priority": ("prioridad", "priority"),
    "zone": ("zona", "time zone"),
    "as_of": ("al", "as of"),
    "cycle": ("ciclo", "cycle"),
    "target": ("objetivo", "target"),
    "late": ("tarde", "late"),
    "counted": ("contado", "counted"),
    "from": ("desde (local)", "from (local)"),
    "to": ("hasta (local)", "to (local)"),
    "from_utc": ("desde (UTC)", "from (UTC)"),
    "to_utc": ("hasta (UTC)", "to (UTC)"),
    "counts": ("cuenta", "counts"),
    "reason": ("motivo", "reason"),
    "total": ("total contado", "total counted"),
    "used": ("tiempo usado", "time used"),
    "retarget": ("cambio de prioridad", "priority change"),
    "kept": ("se conservan", "kept"),
    "due": ("nuevo vencimiento", "new deadline"),
    "none": ("sin objetivo", "no target"),
    "no_clocks": ("Ningún reloj ha empezado.", "No clock has started."),
}


def duration(value: timedelta | None) -> str:
    """``H:MM:SS`` (``.ffffff`` when not whole seconds); hours are not folded into days."""
    if value is None:
        return "—"
    if value < timedelta(0):  # never in a receipt; kept readable anyway
        return "-" + duration(-value)
    whole = value.days * 86_400 + value.seconds
    hours, rest = divmod(whole, 3600)
    text = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{value.microseconds:06d}" if value.microseconds else text


def instant(value: datetime | None, zone: ZoneInfo) -> dict[str, str] | None:
    """An instant in UTC and in the policy's local time (as the rest of the read API)."""
    if value is None:
        return None
    return {
        "utc": value.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "local": value.astimezone(zone).isoformat(),
    }


def who(actor: Actor | None) -> str:
    if actor is None:
        return "?"
    return f"{actor.name} ({actor.id})" if actor.name else actor.id


def reason(line: Skipped, en: int) -> str:
    """Why a stretch did not count, in one phrase."""
    text = WHY_NAMES[line.why][en]
    if line.why is Why.PAUSE and line.state in PAUSED_BY:
        quote = f"“{line.because}”" if en else f"«{line.because}»"
        text += f", {PAUSED_BY[line.state][en]} {who(line.by)}: {quote}"
    elif line.name:
        text += f": {line.name}"
    return text


def retarget_text(line: Retarget, zone: ZoneInfo, en: int) -> str:
    due = stamp(line.deadline, zone, en) if line.deadline else "—"
    return (
        f"{WORDS['retarget'][en]} {line.from_priority} → {line.to_priority}: "
        f"{WORDS['target'][en]} {duration(line.from_target)} → {duration(line.to_target)}; "
        f"{WORDS['kept'][en]} {duration(line.kept)}; {WORDS['due'][en]} {due} ({line.reason})"
    )


def status_text(cycle: CycleReceipt, en: int) -> str:
    text = STATUS_NAMES[cycle.status][en]
    return (
        f"{text}, {WORDS['late'][en]}" if cycle.late and cycle.status is ClockStatus.MET else text
    )


# --- JSON -------------------------------------------------------------------------------------


def line_json(line: Line, zone: ZoneInfo, en: int) -> dict[str, Any]:
    if isinstance(line, Retarget):
        return {
            "kind": "retarget",
            "at": instant(line.at, zone),
            "from_priority": line.from_priority,
            "to_priority": line.to_priority,
            "from_target_seconds": _seconds(line.from_target),
            "to_target_seconds": _seconds(line.to_target),
            "kept_seconds": line.kept.total_seconds(),
            "deadline": instant(line.deadline, zone),
            "reason": line.reason,
            "text": retarget_text(line, zone, en),
        }
    body: dict[str, Any] = {
        "start": instant(line.start, zone),
        "end": instant(line.end, zone),
        "elapsed_seconds": (line.end - line.start).total_seconds(),
    }
    if isinstance(line, Counted):
        seconds = line.business.total_seconds()
        return {
            "kind": "counted",
            **body,
            "business_seconds": seconds,
            "text": WORDS["counted"][en],
        }
    return {
        "kind": "skipped",
        **body,
        "business_seconds": 0.0,
        "why": line.why.value,
        "name": line.name,
        "state": None if line.state is None else line.state.value,
        "by": None if line.by is None else line.by.model_dump(mode="json"),
        "because": line.because,
        "text": reason(line, en),
    }


def receipt_json(receipt: Receipt, ticket: Mapping[str, Any], *, english: bool) -> dict[str, Any]:
    """The receipt with its ticket's names (``ticket``: id, case number, title, tenant, state)."""
    en, zone = int(english), receipt.time_zone
    return {
        **ticket,
        "policy": receipt.policy.id,
        "priority": receipt.priority,
        "ticket_type": receipt.ticket_type,
        "time_zone": zone.key,
        "as_of": instant(receipt.as_of, zone),
        "language": "en" if english else "es",
        "clocks": [
            {
                "metric": cycle.metric.value,
                "name": METRIC_NAMES[cycle.metric][en],
                "cycle": cycle.cycle,
                "status": cycle.status.value,
                "status_text": status_text(cycle, en),
                "late": cycle.late,
                "target_seconds": _seconds(cycle.target),
                "started_at": instant(cycle.started_at, zone),
                "ended_at": instant(cycle.ended_at, zone),
                "met_at": instant(cycle.met_at, zone),
                "deadline": instant(cycle.deadline, zone),
                "used_seconds": cycle.used.total_seconds(),
                "total_seconds": cycle.total.total_seconds(),
                "used": duration(cycle.used),
                "total": duration(cycle.total),
                "lines": [line_json(line, zone, en) for line in cycle.lines],
            }
            for cycle in receipt.cycles
        ],
    }


# --- text -------------------------------------------------------------------------------------


def stamp(value: datetime, zone: ZoneInfo, en: int) -> str:
    """``2026-11-13 vie 17:00:00``: the weekday helps whoever checks a weekend or a holiday."""
    local = value.astimezone(zone)
    return f"{local:%Y-%m-%d} {WEEKDAYS[en][local.weekday()]} {local:%H:%M:%S}"


def utc(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


ROW = "  {:<24} {:<24} {:<19}  {:<19} {:>10}  {}"


def receipt_text(receipt: Receipt, ticket: Mapping[str, Any], *, english: bool) -> str:
    """The receipt as a plain-text table, one block per metric and cycle."""
    en, zone = int(english), receipt.time_zone
    w = {key: words[en] for key, words in WORDS.items()}
    out = [
        f"{w['title']} · {ticket['case_number']} · {ticket['title']}",
        f"{w['policy']} {receipt.policy.id} · {w['priority']} {receipt.priority} · "
        f"{w['zone']} {zone.key}",
        f"{w['as_of']} {stamp(receipt.as_of, zone, en)} ({utc(receipt.as_of)} UTC)",
    ]
    if not receipt.cycles:
        out += ["", w["no_clocks"]]
    for cycle in receipt.cycles:
        out += [
            "",
            f"{METRIC_NAMES[cycle.metric][en]} · {w['cycle']} {cycle.cycle} · "
            f"{status_text(cycle, en)} · {w['target']} {duration(cycle.target)}",
            ROW.format(w["from"], w["to"], w["from_utc"], w["to_utc"], w["counts"], w["reason"]),
        ]
        for line in cycle.lines:
            if isinstance(line, Retarget):
                out.append(f"  {stamp(line.at, zone, en):<24} ↳ {retarget_text(line, zone, en)}")
                continue
            counts = duration(line.business) if isinstance(line, Counted) else "—"
            why = w["counted"] if isinstance(line, Counted) else reason(line, en)
            out.append(
                ROW.format(
                    stamp(line.start, zone, en),
                    stamp(line.end, zone, en),
                    utc(line.start),
                    utc(line.end),
                    counts,
                    why,
                )
            )
        out.append(f"  {w['total']} {duration(cycle.total)} = {w['used']} {duration(cycle.used)}")
    return "\n".join(out) + "\n"


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()
