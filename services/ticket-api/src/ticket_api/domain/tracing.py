"""The W3C trace context of the request a ticket change comes from, as a context variable.

Every ticket event keeps the trace context (``traceparent``, ``tracestate``) of the request
that caused it, so the relay can publish it and a trace follows the ticket across services.
Rather than a parameter of every aggregate method, the context is ambient, as the user id of
the ``eventsourcing`` library's content-management example: the desk sets it for the length of
a use case (``with tracing(caller.trace): ...``) and ``Ticket.Event`` reads it when an event
is created. Outside ``tracing`` the context is empty, as it was for a caller without a trace.

Only the standard library: the domain imports no framework.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Trace = dict[str, str]
"""W3C trace context of the request (``traceparent``, ``tracestate``), possibly empty."""

_current: ContextVar[Trace | None] = ContextVar("ticket_trace_context", default=None)


def current_trace() -> Trace:
    """A copy of the trace context set by the innermost ``tracing`` (``{}`` when none is)."""
    return dict(_current.get() or {})


@contextmanager
def tracing(trace: Trace | None) -> Iterator[None]:
    """Events created inside the block carry ``trace`` (``None``: no trace context)."""
    token = _current.set(dict(trace or {}))
    try:
        yield
    finally:
        _current.reset(token)
