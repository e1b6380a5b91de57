"""The read API's query parameters that need more than a type: spans and periods."""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts.policy import parse_span
from servicekit.web import Problem

MAX_WITHIN = timedelta(days=31)


def parse_within(text: str) -> timedelta:
    """``2h``, ``90m``, ``1h30m``, ``1d`` or a number of seconds; at most 31 days."""
    value = text.strip()
    try:
        if value.isdigit():
            span = timedelta(seconds=int(value))
        else:
            parsed = parse_span(value)
            if parsed.is_business_days:
                raise ValueError("business days are not accepted here")
            span = parsed.fixed
    except ValueError:
        raise Problem(
            422,
            "invalid-duration",
            en=f"'within' must be a duration such as 2h, 30m, 1h30m or a number of seconds, "
            f"not {text!r}.",
            es=f"'within' debe ser una duración como 2h, 30m, 1h30m o un número de segundos, "
            f"no {text!r}.",
            field="within",
        ) from None
    if not timedelta(0) < span <= MAX_WITHIN:
        raise Problem(
            422,
            "invalid-duration",
            en="'within' must be longer than zero and at most 31 days.",
            es="'within' debe ser mayor que cero y de 31 días como máximo.",
            field="within",
        )
    return span


def aware(value: datetime | None, name: str) -> datetime | None:
    """``value`` if it names its time zone (or is absent); a 422 problem otherwise."""
    if value is not None and value.tzinfo is None:
        raise Problem(
            422,
            "naive-datetime",
            en=f"'{name}' needs a time zone offset (e.g. 2026-11-30T09:00:00-06:00 or ...Z).",
            es=f"'{name}' necesita una zona horaria (p. ej. 2026-11-30T09:00:00-06:00 o ...Z).",
            field=name,
        )
    return value


def period(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The ``[since, until)`` period of a query: by default the last 7 days up to now."""
    end = aware(until, "until") or now
    start = aware(since, "since") or end - timedelta(days=7)
    if start >= end:
        raise Problem(
            422,
            "invalid-period",
            en="'since' must come before 'until'.",
            es="'since' debe ser anterior a 'until'.",
            field="since",
        )
    return start, end
