"""Lengths of time as a support manager writes them in a policy file.

``15m``, ``8h``, ``1h30m``, ``7d`` (days of 24 hours) and ``10bd`` (business days). A business
day is a unit of the calendar it is counted on (its ``business_day`` length), because "3 días
hábiles" means three working days of that desk, whatever its hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

_PATTERN = re.compile(
    r"^\s*(?:(?P<bd>\d+)\s*bd|(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+(?:\.\d+)?)\s*h)?"
    r"\s*(?:(?P<m>\d+)\s*m)?)\s*$"
)
JSON_PATTERN = r"^\s*(\d+\s*bd|(\d+\s*d)?\s*(\d+(\.\d+)?\s*h)?\s*(\d+\s*m)?)\s*$"
EXAMPLES = "'15m', '8h', '1h30m', '7d' (days of 24 h) or '10bd' (business days)"


@dataclass(frozen=True, slots=True)
class Span:
    """A parsed length: either fixed (``fixed``) or a number of business days."""

    text: str
    fixed: timedelta = timedelta(0)
    business_days: int = 0
    whole_days: int = 0
    """How many 24-hour days the text named with ``d`` (they are part of ``fixed``)."""

    @property
    def is_business_days(self) -> bool:
        return self.business_days > 0

    def resolve(self, business_day: timedelta) -> timedelta:
        """The length as a duration, given how long a business day is on its calendar."""
        return self.business_days * business_day if self.business_days else self.fixed

    def __str__(self) -> str:
        return self.text


def parse_span(value: Any) -> Span:
    """Parse ``'8h'``-style text; anything else gets an error that shows how to write it."""
    if isinstance(value, Span):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a duration must be text such as {EXAMPLES}, got {value!r}")
    match = _PATTERN.match(value)
    if not match or not any(match.groupdict().values()):
        raise ValueError(f"{value!r} is not a duration; write e.g. {EXAMPLES}")
    parts = match.groupdict()
    if parts["bd"]:
        days = int(parts["bd"])
        if days == 0:
            raise ValueError("a duration must be longer than zero")
        return Span(text=value.strip(), business_days=days)
    fixed = timedelta(
        days=int(parts["d"] or 0), hours=float(parts["h"] or 0), minutes=int(parts["m"] or 0)
    )
    if fixed <= timedelta(0):
        raise ValueError("a duration must be longer than zero")
    return Span(text=value.strip(), fixed=fixed, whole_days=int(parts["d"] or 0))


Duration = Annotated[
    Span,
    PlainValidator(parse_span),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": JSON_PATTERN,
            "description": f"A length of time: {EXAMPLES}.",
            "examples": ["15m", "8h", "7d", "10bd"],
        }
    ),
]
