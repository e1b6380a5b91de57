"""The consumers' PostgreSQL, from the same ``POSTGRES_*`` variables every service reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings


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
        timeout=float(env.get("POSTGRES_CONNECT_TIMEOUT") or 2.0),
        command_timeout=float(env.get("POSTGRES_COMMAND_TIMEOUT") or 30.0),
    )
    assert pool is not None  # asyncpg returns None only for a pool it was told not to start
    return pool


def _postgres(name: str, default: Any) -> Any:
    """A field read from ``POSTGRES_<NAME>`` (or by its field name), ignoring any prefix."""
    return Field(
        default,
        validation_alias=AliasChoices(f"postgres_{name}", f"POSTGRES_{name.upper()}"),
    )


class PostgresSettings(BaseSettings):
    """The ``POSTGRES_*`` variables every service's projections read, without its prefix.

    A service's ``Settings`` inherits these beside its own prefixed variables, so one set of
    variables points ticket-api's store, sla-monitor and the notifier at the same server.
    """

    postgres_host: str = _postgres("host", "127.0.0.1")
    postgres_port: int = _postgres("port", 5432)
    postgres_user: str = _postgres("user", "postgres")
    postgres_password: str = _postgres("password", "")
    postgres_dbname: str = _postgres("dbname", "postgres")
    postgres_connect_timeout: float = 2.0
    """Seconds to wait for a database connection before answering 503."""
    postgres_command_timeout: float = _postgres("command_timeout", 30.0)
    """Seconds any one statement may take: no consumer, timer loop or read waits without a
    deadline on a database that stopped answering (a lost network path, a lock held)."""
    pool_max_size: int = 10

    def pool_kwargs(self) -> dict[str, Any]:
        """``asyncpg.create_pool`` arguments."""
        return {
            "host": self.postgres_host,
            "port": self.postgres_port,
            "user": self.postgres_user,
            "password": self.postgres_password,
            "database": self.postgres_dbname,
            "timeout": self.postgres_connect_timeout,
            "command_timeout": self.postgres_command_timeout,
            "min_size": 0,
            "max_size": self.pool_max_size,
        }
