"""A policy version change mid-month leaves earlier clocks untouched.

BITAM's version 2, in force from Tuesday 1 December 2026 00:00 in Mexico City, promises media
tickets a resolution in 12 business hours instead of 24. A ticket opened on Monday 30 November
keeps version 1 to the end; one opened on Tuesday 1 December is governed by version 2; and
replaying both long after the change (a rebuild) gives the same clocks.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from contracts.events import Actor, ActorKind
from contracts.events import ticket as te
from contracts.policy import load_policies
from contracts.vocabulary import Metric
from sla_monitor.projection import replay

POLICIES = Path(__file__).resolve().parents[3] / "policies"
MEXICO = ZoneInfo("America/Mexico_City")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="contact-ana")
SWITCH = datetime(2026, 12, 1, tzinfo=MEXICO)


def versioned(folder: Path) -> Any:
    for file in POLICIES.glob("*.yaml"):
        shutil.copy(file, folder / file.name)
    data = yaml.safe_load((POLICIES / "000-bitam.yaml").read_text(encoding="utf-8"))
    media = next(p for p in data["priorities"] if p["id"] == "media")
    media["targets"]["resolution"] = {"within": "12h"}
    data.update(version=2, effective_from=SWITCH.isoformat())
    (folder / "000-bitam.v2.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_policies(folder)


def opened_at(at: datetime) -> list[dict[str, Any]]:
    opened = te.Opened(
        actor=CUSTOMER,
        case_number="BIT-000001",
        contact=te.Contact(id="contact-ana", name="Ana", email="ana@acme.example"),
        title="El portal no responde",
        description="Error 500",
        ticket_type="soporte",
        priority="media",
    )
    payload = json.dumps(opened.model_dump(mode="json"))
    return [{"name": "ticket.opened", "payload": payload, "at": at, "policy": "bitam"}]


def resolution_target(policies: Any, at: datetime) -> tuple[int, timedelta | None]:
    sla = replay(policies, opened_at(at))
    assert sla is not None
    return sla.policy.version, sla.clocks[Metric.RESOLUTION].target


def test_a_version_change_mid_month_leaves_earlier_clocks_untouched(tmp_path: Path) -> None:
    policies = versioned(tmp_path)
    monday = datetime(2026, 11, 30, 10, tzinfo=MEXICO)
    assert resolution_target(policies, monday) == (1, timedelta(hours=24))
    tuesday = datetime(2026, 12, 1, 10, tzinfo=MEXICO)
    assert resolution_target(policies, tuesday) == (2, timedelta(hours=12))
    # Monday's deadline, replayed after the switch, is what it was: 24 business hours (Mon
    # 10:00–18:00 8 h, Tue 9.5 h, Wed 08:30 + 6.5 h → Wed 2 December 15:00).
    sla = replay(policies, opened_at(monday))
    assert sla is not None
    assert sla.clocks[Metric.RESOLUTION].deadline() == datetime(2026, 12, 2, 15, tzinfo=MEXICO)
