"""Actions carry their whole command, decided by the rules when they are armed."""

from __future__ import annotations

from datetime import datetime, timedelta

from test_sla_clocks import MEXICO, sla

from sla_monitor import actions
from sla_monitor.actions import ActionKind

NOON = datetime(2026, 11, 30, 12, tzinfo=MEXICO)


def test_an_escalation_promises_the_resolution_deadline_while_it_is_ahead() -> None:
    deadline = NOON + timedelta(hours=3)
    action = actions.escalation(2, NOON, deadline, timedelta(hours=8))
    assert (action.command, action.body["to_level"]) == ("escalate", 2)
    assert action.body["etr"] == deadline.isoformat()
    assert "nivel 1" in action.body["reason"] and "level 1's time" in action.body["reason"]


def test_an_escalation_past_the_deadline_promises_the_resolution_target_from_its_due() -> None:
    late = actions.escalation(3, NOON, NOON - timedelta(hours=1), timedelta(hours=8))
    assert late.body["etr"] == (NOON + timedelta(hours=8)).isoformat()
    unmeasured = actions.escalation(3, NOON, None, None)
    assert unmeasured.body["etr"] == (NOON + actions.DEFAULT_ETR).isoformat()


def test_proditma_arms_its_first_escalation_with_the_resolution_deadline_as_etr() -> None:
    friday = datetime(2026, 11, 27, 16, tzinfo=MEXICO)  # desk 09:00-18:00, 8 business hours
    (first,) = sla("proditma", "alta", "incidente", friday).actions()
    assert (first.kind, first.command, first.body["to_level"]) == ("escalate", "escalate", 2)
    etr = datetime.fromisoformat(first.body["etr"])
    assert etr == datetime(2026, 11, 30, 15, tzinfo=MEXICO)  # its 8 hours end Monday 15:00


def test_closing_and_the_close_notice_carry_what_ticket_api_and_the_notifier_need() -> None:
    close = actions.close(ActionKind.CLOSE_EXPIRED, NOON)
    assert (close.command, close.body) == ("close", {"closure": "expired", "note": "sla-monitor"})
    notice = actions.close_notice(NOON, NOON + timedelta(days=2))
    assert (notice.command, notice.body["step"]) == (actions.NOTIFY, "close")
    assert notice.body["happens_at"] == (NOON + timedelta(days=2)).isoformat()
