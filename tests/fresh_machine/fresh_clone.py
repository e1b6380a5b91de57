"""A fresh clone of this repository, run with the README's two commands as a newcomer would.

The promise checked: on a machine with only Python, ``make`` and git, ``make run`` starts the
whole system and ``make test`` finds its PostgreSQL, with nothing installed by hand and no root
needed (ADR 16).  So the clone runs with a PATH cleaned of everything this machine has besides
(Debian's PostgreSQL in ``/usr/lib/postgresql``, pyenv, cargo): only the base system directories
and a folder holding ``uv`` and a Python, which is what ``scripts/ensure-uv`` would have
installed or found.  ``uv sync`` fills the clone's own ``.venv`` from uv's cache, so no package
is downloaded again.

What is cloned is the committed ``HEAD`` of this checkout (``git clone`` of the local
repository), so uncommitted changes are not what these tests see.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: The base system's programs: git, make, bash, coreutils, util-linux (runuser, useradd).
BASE_PATH = ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
#: An account for the "normal user" run, created once as a system account when missing.
TEST_USER = "supportdesk-test"
STARTUP_SECONDS = 180
#: How this machine reaches PyPI (its CA bundle, a proxy): kept, as a fresh machine on the same
#: network would have them; uv may ask the index (e.g. for the build backend) even with a cache.
NETWORK_SETTINGS = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "UV_NATIVE_TLS",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)
PORT_NAMES = (
    "NATS_PORT",
    "PG_PORT",
    "SMTP_PORT",
    "TICKET_API_PORT",
    "SLA_MONITOR_PORT",
    "NOTIFIER_PORT",
    "TICKET_API_SMTP_INTAKE_PORT",
)


def uv_binary() -> Path:
    """The uv running these tests (``uv run`` says which in ``UV``), else the project's own."""
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(REPO / ".tools/bin/uv")):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate).resolve()
    raise RuntimeError("no uv found to give the clone (run the tests through make test)")


def usable_python(for_everyone: bool) -> Path | None:
    """A Python the project accepts (3.11-3.13): this interpreter's own base, or, for another
    account (this one may live in root's home, mode 700), one in the base system."""
    candidates = [] if for_everyone else [Path(sys._base_executable).resolve()]
    candidates += [Path(f"/usr/bin/python3.{minor}") for minor in (11, 12, 13)]
    for python in candidates:
        if python.is_file() and os.access(python, os.X_OK):
            return python
    return None


def free_ports() -> dict[str, str]:
    """One port the kernel calls free for each service of ``make run`` (released right away:
    a clash in between is unlikely and would show as a clear start-up failure)."""
    sockets = []
    try:
        for _ in PORT_NAMES:
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return {name: str(s.getsockname()[1]) for name, s in zip(PORT_NAMES, sockets, strict=True)}
    finally:
        for probe in sockets:
            probe.close()


def unprivileged_account() -> pwd.struct_passwd:
    """The unprivileged account for the normal-user run (needs root to create)."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(TEST_USER)
    useradd = shutil.which("useradd", path=os.pathsep.join(BASE_PATH))
    assert useradd, "useradd is missing"
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/bin/bash", TEST_USER],
        check=False,
        capture_output=True,
    )
    return pwd.getpwnam(TEST_USER)


@dataclass
class Clone:
    """A clone with its own tools folder, environment and (once started) ``make run``."""

    path: Path
    env: dict[str, str]
    ports: dict[str, str]
    user: str | None = None  # run as this account through runuser (we are root)
    _system: subprocess.Popen[str] | None = field(default=None, repr=False)
    _output: Path | None = field(default=None, repr=False)

    @classmethod
    def make(cls, area: Path, *, user: pwd.struct_passwd | None = None) -> Clone:
        """Clone into ``area/supportdesk`` with the tools in ``area/tools`` (copied, not linked,
        so another account can run them wherever this checkout lives)."""
        python = usable_python(for_everyone=user is not None)
        if python is None:
            raise RuntimeError("no Python 3.11-3.13 that every account can run")
        tools = area / "tools"
        tools.mkdir()
        shutil.copy2(uv_binary(), tools / "uv")
        (tools / "python3").symlink_to(python)
        path = area / "supportdesk"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(path)], check=True)
        env = {
            "PATH": os.pathsep.join([str(tools), *BASE_PATH]),
            "HOME": str(area / "home"),
            "LANG": "C.UTF-8",
            "UV_PYTHON": str(python),
            "UV_PYTHON_DOWNLOADS": "never",
            **{name: os.environ[name] for name in NETWORK_SETTINGS if name in os.environ},
        }
        (area / "home").mkdir()
        if user is None:
            # Our own uv cache holds every locked wheel already: no download.
            cache = subprocess.run(
                [str(tools / "uv"), "cache", "dir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            env["UV_CACHE_DIR"] = cache
        else:
            # Another account cannot use our cache (it may be in root's home): a copy of its own.
            cache = subprocess.run(
                [str(tools / "uv"), "cache", "dir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            subprocess.run(["cp", "-a", cache, str(area / "uv-cache")], check=True)
            env["UV_CACHE_DIR"] = str(area / "uv-cache")
            subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(area)], check=True)
        ports = free_ports()
        return cls(path, {**env, **ports}, ports, user.pw_name if user else None)

    def command(self, argv: list[str]) -> list[str]:
        if self.user is None:
            return argv
        runuser = shutil.which("runuser", path=os.pathsep.join(BASE_PATH)) or "runuser"
        return [runuser, "-u", self.user, "--", *argv]

    def run(
        self, argv: list[str], timeout: float, extra: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A command in the clone, as its account, with the clean environment."""
        return subprocess.run(
            self.command(argv),
            cwd=self.path,
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @contextlib.contextmanager
    def running(self, extra: Mapping[str, str] | None = None) -> Iterator[str]:
        """``make run`` until the block ends, stopped with Ctrl-C as a person would (SIGINT
        to its process group); yields once the three services answer ``/healthz``, or fails
        with what make run printed."""
        output = self.path.parent / f"make-run-{len(list(self.path.parent.glob('make-run-*')))}"
        with output.open("w") as out:
            system = subprocess.Popen(
                self.command(["make", "run"]),
                cwd=self.path,
                env={**self.env, **(extra or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        try:
            self._wait_healthy(system, output)
            yield output.read_text()
        finally:
            _interrupt(system)

    def _wait_healthy(self, system: subprocess.Popen[str], output: Path) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        for service in ("TICKET_API_PORT", "SLA_MONITOR_PORT", "NOTIFIER_PORT"):
            while True:
                if system.poll() is not None:
                    raise AssertionError(f"make run stopped:\n{output.read_text()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{service} never healthy:\n{output.read_text()}")
                health = f"{self.url(service)}/healthz"
                with (
                    contextlib.suppress(urllib.error.URLError, OSError),
                    urllib.request.urlopen(health, timeout=2) as answer,
                ):
                    if answer.status == 200:
                        break
                time.sleep(0.5)


def _interrupt(system: subprocess.Popen[str]) -> None:
    """Ctrl-C to the whole ``make run`` process group; then wait for everything to stop."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(system.pid, signal.SIGINT)
    try:
        system.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(system.pid, signal.SIGKILL)
        system.wait()
    # The process group's stragglers (the PostgreSQL server is stopped by run-system itself).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(system.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)


def server_program(data: Path) -> str:
    """The executable of the PostgreSQL server running on ``data`` (which installation it is)."""
    pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    return os.readlink(f"/proc/{pid}/exe")
