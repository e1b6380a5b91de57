"""Self-test of the PostgreSQL fixtures: they must hand out a real, writable, isolated database.

If these fail, every integration test built on ``postgres_env`` is suspect, so they are kept
small and run with the rest of the suite.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

import psycopg
import pytest


def _connect(env: Mapping[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    """Connect the way eventsourcing will: only through the POSTGRES_* variables."""
    return psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        dbname=env["POSTGRES_DBNAME"],
        autocommit=True,
    )


def test_env_is_what_eventsourcing_reads(postgres_env: dict[str, str]) -> None:
    """The fixture speaks eventsourcing's language and nothing else (no DSN shortcut)."""
    assert postgres_env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert set(postgres_env) == {
        "PERSISTENCE_MODULE",
        "POSTGRES_DBNAME",
        "POSTGRES_HOST",
        "POSTGRES_PORT",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
    }
    assert postgres_env["POSTGRES_PASSWORD"], "eventsourcing requires a non-empty password"


def test_database_is_real_and_writable(postgres_env: dict[str, str]) -> None:
    """A table can be created, written and read back: a real server, not a stand-in."""
    with _connect(postgres_env) as conn:
        conn.execute("CREATE TABLE probe (id integer PRIMARY KEY, note text NOT NULL)")
        conn.execute("INSERT INTO probe (id, note) VALUES (%s, %s)", (1, "hola"))
        assert conn.execute("SELECT id, note FROM probe").fetchall() == [(1, "hola")]
        row = conn.execute("SELECT current_database(), version()").fetchone()
    assert row is not None
    assert row[0] == postgres_env["POSTGRES_DBNAME"]
    assert str(row[1]).startswith("PostgreSQL")


# Database names seen by ``test_each_test_gets_its_own_empty_database``, across its two runs.
_seen_databases: list[str] = []


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_its_own_empty_database(postgres_env: dict[str, str], run: int) -> None:
    """Two ``postgres_env`` databases are distinct: the second run sees nothing of the first.

    (Under pytest-xdist the runs may land on different workers; each still checks emptiness.)
    """
    name = postgres_env["POSTGRES_DBNAME"]
    assert name not in _seen_databases, f"run {run} got a database again: {name}"
    _seen_databases.append(name)
    with _connect(postgres_env) as conn:
        assert conn.execute("SELECT to_regclass('left_behind')").fetchone() == (None,)
        conn.execute("CREATE TABLE left_behind (run integer)")
        conn.execute("INSERT INTO left_behind (run) VALUES (%s)", (run,))


def test_two_databases_in_one_test_are_isolated(
    postgres_server: dict[str, str], postgres_env: dict[str, str]
) -> None:
    """The same isolation checked deterministically, within one process and one test."""
    from postgres import drop_database, fresh_database

    twin = fresh_database(postgres_server, postgres_env["POSTGRES_DBNAME"] + "_twin")
    try:
        assert twin["POSTGRES_DBNAME"] != postgres_env["POSTGRES_DBNAME"]
        with _connect(postgres_env) as conn:
            conn.execute("CREATE TABLE only_here (id integer)")
        with _connect(twin) as conn:
            assert conn.execute("SELECT to_regclass('only_here')").fetchone() == (None,)
    finally:
        drop_database(twin)


def test_eventsourcing_application_persists_in_it(postgres_env: dict[str, str]) -> None:
    """The env is complete for eventsourcing: an application stores and reloads an aggregate."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate

    class Probe(Aggregate):
        """A minimal aggregate, just to round-trip one event through PostgreSQL."""

    writer = Application[UUID](env=postgres_env)
    probe = Probe()
    writer.save(probe)
    writer.close()

    reader = Application[UUID](env=postgres_env)
    try:
        assert reader.repository.get(probe.id).id == probe.id
        assert type(reader.recorder).__module__ == "eventsourcing.postgres"
    finally:
        reader.close()
