"""The board's words in Spanish (the default, as everywhere at the desks) and English."""

from __future__ import annotations

from dataclasses import dataclass

WORDS: dict[str, tuple[str, str]] = {
    "board": ("Tablero de SLA", "SLA board"),
    "queue": ("Cola", "Queue"),
    "compliance": ("Cumplimiento", "Compliance"),
    "sign_in": ("Entrar", "Sign in"),
    "sign_out": ("Salir", "Sign out"),
    "credential": ("Clave de API o token", "API key or token"),
    "credential_help": (
        "La misma clave o token OIDC que acepta ticket-api.",
        "The same key or OIDC token ticket-api accepts.",
    ),
    "refused": ("Credencial no válida.", "Invalid credential."),
    "customers_refused": (
        "El tablero es para el personal de soporte; los clientes usan el portal.",
        "The board is for support staff; customers use the portal.",
    ),
    "csrf": (
        "El formulario caducó; vuelva a intentarlo.",
        "The form expired; please try again.",
    ),
    "case": ("Caso", "Case"),
    "title": ("Título", "Title"),
    "tenant": ("Cliente", "Tenant"),
    "policy": ("Política", "Policy"),
    "priority": ("Prioridad", "Priority"),
    "agent": ("Agente", "Agent"),
    "state": ("Estado", "State"),
    "clock": ("Reloj", "Clock"),
    "time_left": ("Tiempo restante (hábil)", "Time left (business)"),
    "all": ("Todos", "All"),
    "filter": ("Filtrar", "Filter"),
    "unassigned": ("Sin asignar", "Unassigned"),
    "paused": ("En pausa", "Paused"),
    "breached": ("Incumplido", "Breached"),
    "at-risk": ("En riesgo", "At risk"),
    "on-time": ("A tiempo", "On time"),
    "empty": ("No hay tickets abiertos.", "No open tickets."),
    "live": ("En vivo", "Live"),
    "as_of": ("Al instante", "As of"),
    "as_of_help": (
        "Fecha y hora con zona (p. ej. 2026-11-30T09:00-06:00); vacío: ahora.",
        "Date and time with its zone (e.g. 2026-11-30T09:00-06:00); empty: now.",
    ),
    "position": ("Posición en el historial", "Position in the history"),
    "events_until": ("eventos hasta", "events up to"),
    "version": ("versión", "version"),
    "back_to_live": ("Volver a en vivo", "Back to live"),
    "shown": ("mostrados", "shown"),
    "of": ("de", "of"),
    "clocks": ("Relojes", "Clocks"),
    "status": ("Situación", "Status"),
    "target": ("Objetivo", "Target"),
    "used": ("Usado", "Used"),
    "remaining": ("Restante", "Remaining"),
    "deadline": ("Vence", "Deadline"),
    "receipt": ("Recibo: cada segundo explicado", "Receipt: every second explained"),
    "escalations": ("Escalamientos", "Escalations"),
    "no_escalations": ("Sin escalamientos.", "No escalations."),
    "level": ("Nivel", "Level"),
    "etr": ("Solución estimada (ETR)", "Estimated resolution (ETR)"),
    "reason": ("Motivo", "Reason"),
    "when": ("Cuándo", "When"),
    "period": ("Periodo", "Period"),
    "since": ("Desde", "Since"),
    "until": ("Hasta", "Until"),
    "met": ("Cumplidos", "Met"),
    "on_time_share": ("A tiempo", "On time"),
    "median": ("Mediana usada", "Median used"),
    "no_data": ("Sin relojes cumplidos en el periodo.", "No clocks met in the period."),
    "not_found": ("Ticket no encontrado.", "Ticket not found."),
    "bad_instant": (
        "Instante no válido: use fecha, hora y zona.",
        "Invalid instant: give a date, a time and a zone.",
    ),
    "language": ("English", "Español"),
    "first_response": ("Primera respuesta", "First response"),
    "resolution": ("Resolución", "Resolution"),
    "update": ("Actualización", "Update"),
    "decision": ("Decisión", "Decision"),
    "running": ("Corriendo", "Running"),
    "met_status": ("Cumplido", "Met"),
    "pending": ("Pendiente", "Pending"),
    "not_applicable": ("No aplica", "Not applicable"),
    "open": ("Abierto", "Open"),
    "in_progress": ("En curso", "In progress"),
    "awaiting_customer": ("Esperando al cliente", "Awaiting customer"),
    "resolved": ("Resuelto", "Resolved"),
    "closed": ("Cerrado", "Closed"),
    "skip": ("Saltar al contenido", "Skip to content"),
}


@dataclass(frozen=True)
class Words:
    """``t("key")`` in the page's language; an unknown key shows itself (never a crash)."""

    english: bool

    @property
    def lang(self) -> str:
        return "en" if self.english else "es"

    def __call__(self, key: str) -> str:
        pair = WORDS.get(key)
        return key if pair is None else pair[self.english]

    def status(self, value: str) -> str:
        return self("met_status") if value == "met" else self(value)


def countdown(seconds: float) -> str:
    """``1:05:03`` of business time; ``-0:10:00`` past the target."""
    sign = "-" if seconds < 0 else ""
    whole = int(abs(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
