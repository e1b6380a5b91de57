"""Liveness and readiness for the orchestrator: ready means the database answers and, with
NATS configured, the projection's consumer is attached."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sla_monitor.api import models
from sla_monitor.api.deps import DATABASE_ERRORS, Reader

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Alive", response_model=models.Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Database reachable",
    response_model=models.Readiness,
    responses={503: {"model": models.Readiness, "description": "Not ready, and why"}},
)
async def readyz(request: Request, reader: Reader) -> JSONResponse:
    try:
        pool = reader.db()
        timeout = reader.settings.postgres_connect_timeout
        async with asyncio.timeout(timeout + 1):
            async with pool.acquire(timeout=timeout) as conn:
                await conn.fetchval("SELECT 1")
    except (*DATABASE_ERRORS, ConnectionError) as exc:
        return JSONResponse(
            {"status": "unavailable", "database": type(exc).__name__}, status_code=503
        )
    body = {"status": "ok", "database": "ok"}
    background = getattr(request.app.state, "background", None)
    if background is not None:
        connected = background.nc is not None and background.nc.is_connected
        attached = background.consumer is not None and background.consumer.attached
        body["nats"] = "ok" if connected else "disconnected"
        body["consumer"] = "attached" if attached else "detached"
        if not (connected and attached):
            body["status"] = "unavailable"
            return JSONResponse(body, status_code=503)
    return JSONResponse(body)
