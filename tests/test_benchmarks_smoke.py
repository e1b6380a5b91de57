"""Every benchmark still runs: each ``bench/*.py`` script at its ``--smoke`` size.

A smoke run is a check that the benchmark works (its servers start, every phase runs, its
figures print beside their baseline), not a measurement: the sizes are tiny and the machine is
shared. Scripts are found by globbing ``bench/``, so a new benchmark is covered as soon as it
exists, and one without ``--smoke`` fails here. Benchmarks start the servers they need
themselves (``testing/bench_support.py``: PostgreSQL, nats-server); one that cannot get a server
exits non-zero with the reason, and its test fails with that output rather than being skipped.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
TIMEOUT_SECONDS = 120.0
GRACE_SECONDS = 10.0
"""After a timeout: how long the run may take to clean up after a Ctrl-C before it is killed."""


def is_script(path: Path) -> bool:
    """A benchmark to run, not a helper module beside them."""
    return not path.name.startswith("_") and "__main__" in path.read_text(encoding="utf-8")


SCRIPTS = sorted(p for p in BENCH.glob("*.py") if is_script(p))

FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)?\s*(?:[A-Za-z]+/s\b|/s\b|ms\b|[KM]iB\b|x\b|%)")
"""A measured figure: a number with a rate, a duration, a size, a ratio or a share."""
BANNER = "bench "
"""How the settings line some benchmarks print first begins (its rates are asked for, not
measured)."""


def run(script: Path) -> tuple[int, str]:
    """Run ``script --smoke`` from the repository root; its exit code and combined output.

    The run gets a session of its own so that, past the timeout, it and the processes it
    spawned (consumers, uvicorn workers) can be interrupted and then killed together; the
    servers it started are stopped by their own watchdogs once it is gone.
    """
    process = subprocess.Popen(
        [sys.executable, str(script.relative_to(ROOT)), "--smoke"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)  # let its context managers stop its servers
        try:
            output, _ = process.communicate(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        pytest.fail(
            f"{script.name} --smoke still running after {TIMEOUT_SECONDS:.0f} s; its output:\n"
            + tail(output)
        )
    return process.returncode, output


def tail(output: str, lines: int = 60) -> str:
    return "\n".join(output.splitlines()[-lines:])


def test_every_benchmark_is_found() -> None:
    assert {"api.py", "calendar.py", "relay.py", "timers.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_benchmark_smoke(script: Path) -> None:
    code, output = run(script)
    assert code == 0, f"{script.name} --smoke exited with {code}; its output:\n{tail(output)}"
    figures = [
        line for line in output.splitlines() if FIGURE.search(line) and not line.startswith(BANNER)
    ]
    assert figures, f"{script.name} --smoke printed no figure; its output:\n{tail(output)}"
