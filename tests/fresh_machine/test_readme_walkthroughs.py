"""The README is executable documentation: every shell line of its walk-throughs, run as written.

The ```sh blocks of the walk-through sections are cut into commands (a command ends where bash
can parse what came so far) and run one by one with bash, in the README's order, against
``make run`` in a fresh clone.  Only what must change is substituted, each substitution
asserted to apply: the ports (free ones, so this never clashes with anything on 8000), the API
key the README shows once, ids the README writes as ``<id>``, and the receipt's example ticket
(another story's BIT-000007).  Each command must exit 0 and answer what the README says: the
status code and values of a ``# →`` comment, no problem document from a ``curl -s``, and the
named text for the commands listed in ``SAYS``.  A changed README line fails here until the
system does what the line says.  The simulated-clock walk-through runs against
``SIMULATED_CLOCK=true make run``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fresh_clone import REPO, Clone

pytestmark = pytest.mark.fresh_machine

#: Sections whose ```sh blocks are walk-throughs against a real-clock make run, in order.
REAL_CLOCK = [
    "A first ticket",
    "Who may do what: tenants, contacts, keys",
    "sla-monitor",
    "Every second of a clock explained: the receipt",
    "notifier",
    "Following a ticket: traces, metrics, logs",
]
SIMULATED_CLOCK = ["A month in minutes: the simulated clock"]
#: Blocks that are not walk-throughs: the two commands are what starts the system itself; a
#: simulated month takes minutes (services/simulator's tests run the simulator, the report and
#: the what-if through the real services, and check the example candidate below loads).
#: Webhook subscriptions need a receiver of the reader's own and the id the create answer
#: gives; services/notifier/tests/test_notifier_webhooks.py runs the same calls. An erasure
#: cannot be undone, and later walk-throughs read Marta's tickets: the erasure is run by
#: services/ticket-api/tests/test_personal_data.py and tests/e2e/test_erasure_end_to_end.py.
NOT_WALKTHROUGHS = [
    "The two commands",
    "A month of support in minutes: simulator, SLA report, what-if",
    "Webhook subscriptions",
    "Erasing a contact's personal data",
]
#: Text a command's output must contain (by the start of the command as the README writes it).
SAYS = {
    "make mail    #": "[BTW-000001] Recibimos su solicitud",
    "make mail          #": "[BIT-000001] Recibimos su solicitud",
    "make mail ARGS=2": "Subject: ",
    "make trace ARGS=BIT-000001": "POST /v1/tickets",
    "curl -s 'http://127.0.0.1:8001/v1/sla/tickets/BIT-000007/receipt": "total contado",
    "make clock ARGS=show": "simulated time: ",
    "curl -s http://127.0.0.1:8001/v1/sla/tickets/<": '"metric"',
    "curl -s 'http://127.0.0.1:8000/v1/tickets?tenant=initech'": "BTW-000001",
}
RETRY_SECONDS = 90  # events reach sla-monitor and the notifier asynchronously


@dataclass
class Command:
    section: str
    text: str
    expects: str = ""  # the ``# →`` comment that follows it, if any
    substitutions: list[tuple[str, str]] = field(default_factory=list)


def readme_blocks() -> dict[str, list[str]]:
    """The ```sh blocks of the README by the heading of the section they are in."""
    blocks: dict[str, list[str]] = {}
    section = ""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    inside: list[str] | None = None
    for line in lines:
        if inside is not None:
            if line.startswith("```"):
                blocks.setdefault(section, []).append("\n".join(inside))
                inside = None
            else:
                inside.append(line)
        elif line.startswith("```sh"):
            inside = []
        elif heading := re.match(r"#{2,3} (.+)", line):
            section = heading.group(1).strip()
    return blocks


def commands_of(section: str, block: str) -> list[Command]:
    """Cut a block into commands where bash can parse what came so far; a ``# →`` line is what
    the command before it answers; other comment lines are prose."""
    commands: list[Command] = []
    pending: list[str] = []
    for line in block.splitlines():
        if not pending and line.lstrip().startswith("#"):
            if line.lstrip().startswith("# →") and commands:
                commands[-1].expects = line.split("→", 1)[1].strip()
            continue
        if not pending and not line.strip():
            continue
        pending.append(line)
        text = "\n".join(pending)
        if text.rstrip().endswith("\\"):
            continue
        parses = subprocess.run(["bash", "-n", "-c", text], capture_output=True, check=False)
        if parses.returncode == 0:
            commands.append(Command(section, text))
            pending = []
    assert not pending, f"{section}: an unfinished command in the README: {pending}"
    return commands


class Walk:
    """Runs the commands in one bash per command, keeping the block's variable assignments."""

    def __init__(self, clone: Clone) -> None:
        self.clone = clone
        self.values: dict[str, str] = {}
        self.assignments: list[str] = []

    def substitute(self, command: Command) -> str:
        text = command.text
        for old, new in self._substitutions(command):
            assert old in text, f"{old!r} is no longer in the README line:\n{command.text}"
            text = text.replace(old, new)
        for port, name in (
            ("8000", "TICKET_API_PORT"),
            ("8001", "SLA_MONITOR_PORT"),
            ("8002", "NOTIFIER_PORT"),
            ("2525", "TICKET_API_SMTP_INTAKE_PORT"),
        ):
            text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{self.clone.ports[name]}")
        return text

    def _substitutions(self, command: Command) -> list[tuple[str, str]]:
        text = command.text
        found: list[tuple[str, str]] = []
        if "sdk_d671f30af67c_BRh6…" in text:
            found.append(("sdk_d671f30af67c_BRh6…", self.values["key"]))
        if "api-keys/d671f30af67c" in text:
            found.append(("api-keys/d671f30af67c", f"api-keys/{self.values['key_id']}"))
        if "BIT-000007" in text:  # the receipt's example is a ticket of another story
            found.append(("BIT-000007", "BIT-000001"))
        if "/v1/deliveries/<id>/retry" in text:
            found.append(("<id>", self.values["delivery_id"]))
        elif "<ticket id>" in text:
            found.append(("<ticket id>", self.values["ticket_id"]))
        elif "<id>" in text:
            found.append(("<id>", self.values["ticket_id"]))
        return found

    def run(self, command: Command) -> str:
        """Run, retrying reads until what the README says shows up (asynchronous services)."""
        text = self.substitute(command)
        if re.fullmatch(r"(\w+='[^']*';? ?)+", text.strip()):
            self.assignments.append(text)
            return ""
        script = "\n".join([*self.assignments, text])
        writes = re.search(r"-X (POST|PUT|PATCH|DELETE)|smtp://|printf|make clock", text)
        deadline = time.monotonic() + (0 if writes else RETRY_SECONDS)
        while True:
            result = self.clone.run(["bash", "-c", script], timeout=120)
            problem = self._problem(command, result)
            if problem is None or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert problem is None, f"README line:\n{command.text}\n{problem}"
        self._remember(text, result.stdout)
        return result.stdout

    def _problem(self, command: Command, result: subprocess.CompletedProcess[str]) -> str | None:
        out = result.stdout
        said = f"exit {result.returncode}\n--- stdout\n{out}\n--- stderr\n{result.stderr}"
        if result.returncode != 0:
            return said
        status = re.match(r"(\d{3})\b", command.expects)
        if status and not re.search(rf"^HTTP/[\d.]+ {status.group(1)}\b", out, re.MULTILINE):
            return f"the README says {status.group(1)}: {said}"
        promised = r"[A-Z]{3}-\d{6}|ETag: \"\d+\"|\"key_id\"|\"key\""
        for token in re.findall(promised, command.expects):
            if token.lower() not in out.lower():
                return f"the README says {token}: {said}"
        for start, text in SAYS.items():
            if command.text.startswith(start) and text not in out:
                return f"the README says {text!r}: {said}"
        if command.text.startswith("curl -s ") and "/retry" not in command.text:
            body = out.split("\r\n\r\n", 1)[-1]
            try:
                document = json.loads(body) if body.strip() else None
            except json.JSONDecodeError:
                document = None
            if isinstance(document, dict) and document.get("status", 0) >= 400:
                return f"a problem document: {said}"
        return None

    def _remember(self, text: str, out: str) -> None:
        """Values later lines stand for: the key shown once, the ids written as <id>."""
        if location := re.search(r"^location: /v1/tickets/([\w-]+)", out, re.I | re.M):
            self.values.setdefault("ticket_id", location.group(1))
        body = out.split("\r\n\r\n", 1)[-1].strip()
        try:
            document = json.loads(body) if body else None
        except json.JSONDecodeError:
            return
        if isinstance(document, dict):
            if "key" in document and "key_id" in document:
                self.values.update(key=document["key"], key_id=document["key_id"])
            if "/v1/tickets" in text and "-X POST" in text and "id" in document:
                self.values["ticket_id"] = document["id"]
            items = document.get("items") or document.get("deliveries") or []
            if "/v1/deliveries" in text and items and "delivery_id" not in self.values:
                self.values["delivery_id"] = str(items[0]["id"])


def _tail(clone: Clone, args: str, expected: str) -> None:
    """``make tail ARGS=…`` runs until Ctrl-C: it must print ``expected`` within a minute."""
    process = subprocess.Popen(
        clone.command(["make", "tail", f"ARGS={args}"]),
        cwd=clone.path,
        env=clone.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        while time.monotonic() < deadline and not any(expected in line for line in seen):
            line = process.stdout.readline()
            if line:
                seen.append(line)
            else:
                time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    assert any(expected in line for line in seen), f"make tail ARGS={args}:\n{''.join(seen)}"


@pytest.fixture
def clone() -> Iterator[Clone]:
    area = Path(tempfile.mkdtemp(prefix="supportdesk-readme-"))
    try:
        clone = Clone.make(area)
        synced = clone.run(["make", "sync"], timeout=300)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        yield clone
    finally:
        shutil.rmtree(area, ignore_errors=True)


def test_every_sh_block_of_the_readme_is_classified() -> None:
    """A new ```sh block in a new section must be added to a list above (and so be run)."""
    known = {*REAL_CLOCK, *SIMULATED_CLOCK, *NOT_WALKTHROUGHS}
    unknown = sorted(set(readme_blocks()) - known)
    assert not unknown, (
        f"README sections with ```sh blocks not yet classified here: {unknown}; add each to "
        "REAL_CLOCK or SIMULATED_CLOCK (its lines are then run), or to NOT_WALKTHROUGHS with "
        "the reason"
    )
    assert known <= set(readme_blocks()), "a classified section lost its ```sh block or title"


def test_the_readme_walkthroughs_run_as_written(clone: Clone) -> None:
    blocks = readme_blocks()
    with clone.running():
        walk = Walk(clone)
        for section in REAL_CLOCK:
            for block in blocks[section]:
                walk.assignments = []
                for command in commands_of(section, block):
                    walk.run(command)
        _tail(clone, "--all", "tickets.acme.")
        _tail(clone, "'tickets.initech.>' --all", "tickets.initech.")

    with clone.running({"SIMULATED_CLOCK": "true"}) as started:
        assert "clock: simulated (data in var/sim/)" in started
        walk = Walk(clone)
        for section in SIMULATED_CLOCK:
            for block in blocks[section]:
                walk.assignments = []
                for command in commands_of(section, block):
                    walk.run(command)
        _tail(clone, "'sla.>' --all", "sla.")
    assert (clone.path / "var/sim/ticket-api").is_dir()
    reset = clone.run(["make", "reset"], timeout=120)  # the clusters as root are in /var/tmp
    assert reset.returncode == 0, reset.stdout + reset.stderr
