"""Admission control: a bounded number of requests in progress, a fast 503 beyond it.

Every write ends in the event store's one serialized log, so past a few requests at once more
concurrency only lengthens queues — in the thread pool, the connection pool, the table lock —
until every request is slow and clients time out and retry, adding load (ticket-api fell to
41 commands/s at 32 clients before this, ADR 15). Here at most ``limit`` requests are in
progress; one more waits up to ``queue_timeout`` seconds for a place and is otherwise refused
at once with 503 ``overloaded`` and ``Retry-After``, so the served ones keep the peak rate and
the refused ones know at once to come back later.

Health and metrics are exempt: an orchestrator must still see a busy replica alive and ready,
and an operator must still see why it is busy.

A plain ``asyncio.Semaphore`` rather than a library: uvicorn's ``--limit-concurrency`` counts
connections (health checks and idle keep-alives too) and answers a bare-text 503 without
``Retry-After``; the rate limiters at hand bound requests per time, not in progress.
"""

from __future__ import annotations

import asyncio

from fastapi.responses import JSONResponse
from opentelemetry import metrics
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ticket_api.api import problems

meter = metrics.get_meter("ticket_api")
REFUSED = meter.create_counter(
    "supportdesk.api.overloaded",
    description="Requests refused with 503 overloaded: more in progress than the limit",
)
IN_PROGRESS = meter.create_up_down_counter(
    "supportdesk.api.requests_in_progress",
    description="Requests admitted and not yet answered (health and metrics not counted)",
)
EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
RETRY_AFTER_SECONDS = 1


class AdmissionLimit:
    """ASGI middleware admitting at most ``limit`` requests at once (see the module)."""

    def __init__(self, app: ASGIApp, *, limit: int, queue_timeout: float) -> None:
        self.app = app
        self.limit = limit
        self.queue_timeout = queue_timeout
        self._places = asyncio.Semaphore(limit)
        self.waiting = 0
        """Requests waiting for a place right now."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if not await self._admit():
            REFUSED.add(1)
            await self._refusal(Request(scope))(scope, receive, send)
            return
        IN_PROGRESS.add(1)
        try:
            await self.app(scope, receive, send)
        finally:
            IN_PROGRESS.add(-1)
            self._places.release()

    async def _admit(self) -> bool:
        if not self._places.locked():
            await self._places.acquire()  # a free place: taken without waiting
            return True
        self.waiting += 1
        try:
            async with asyncio.timeout(self.queue_timeout):
                await self._places.acquire()
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        return True

    def _refusal(self, request: Request) -> JSONResponse:
        english = problems.wants_english(request)
        detail = (
            f"The service is at capacity ({self.limit} requests in progress); nothing was done."
            f" Retry in {RETRY_AFTER_SECONDS} s."
            if english
            else f"El servicio está al límite ({self.limit} solicitudes en curso); no se hizo"
            f" nada. Reintente en {RETRY_AFTER_SECONDS} s."
        )
        return problems.problem(
            request,
            503,
            "overloaded",
            detail,
            title="Overloaded",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
