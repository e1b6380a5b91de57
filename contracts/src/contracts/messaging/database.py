"""The consumers' PostgreSQL, from the same ``POSTGRES_*`` variables every service reads."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg


async def create_pool(env: Mapping[str, str], *, max_size: int = 10) -> asyncpg.Pool:
    """An asyncpg pool for ``POSTGRES_HOST/PORT/USER/PASSWORD/DBNAME``."""
    pool = await asyncpg.create_pool(
        host=env["POSTGRES_HOST"],
        port=int(env.get("POSTGRES_PORT") or 5432),
        user=env["POSTGRES_USER"],
        password=env.get("POSTGRES_PASSWORD"),
        database=env["POSTGRES_DBNAME"],
        min_size=1,
        max_size=max_size,
    )
    assert pool is not None  # asyncpg returns None only for a pool it was told not to start
    return pool
