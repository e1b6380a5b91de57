"""The support-policy format: models, loading with actionable errors, and schema export."""

from contracts.policy.durations import Duration, Span, parse_span
from contracts.policy.loading import PolicyFileError, load_policies, load_policy, parse_policy
from contracts.policy.models import CalendarSpec, PrioritySpec, Target, TicketTypeSpec
from contracts.policy.policy import SupportPolicy

__all__ = [
    "CalendarSpec",
    "Duration",
    "PolicyFileError",
    "PrioritySpec",
    "Span",
    "SupportPolicy",
    "Target",
    "TicketTypeSpec",
    "load_policies",
    "load_policy",
    "parse_policy",
    "parse_span",
]
