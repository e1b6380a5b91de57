"""Retention: a policy may say how long a closed ticket keeps its contact's personal data
(``lifecycle.personal_data_retention``); past that, this job erases the ticket's the way a
contact's erasure does (ADR 23): its key is destroyed and the erasure recorded on it.

It runs in ticket-api every ``TICKET_API_RETENTION_INTERVAL_SECONDS`` (any replica may: the
work is idempotent and a ticket already erased is skipped by the query), and once on demand
with ``ticket-api-retention`` (for a scheduler, with the interval set to 0). A closed ticket
changes no more, so its last change in the ticket list is when it closed.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from uuid import UUID

from contracts.policy import SupportPolicy
from ticket_api.erasure import Erasure
from ticket_api.log_position import Dialect

log = logging.getLogger(__name__)

ACTOR = {"kind": "system", "id": "retention", "name": "retention"}
BATCH = 200


def retention_of(policy: SupportPolicy) -> timedelta | None:
    span = policy.lifecycle.personal_data_retention
    if span is None:
        return None
    return span.fixed or timedelta(days=span.business_days or 0)


class RetentionJob:
    """Erases the personal data of closed tickets past their policy's retention period."""

    def __init__(self, erasure: Erasure) -> None:
        self.erasure = erasure
        self.desk = erasure.desk
        self.dialect = Dialect(self.desk.recorder.datastore)  # type: ignore[attr-defined]

    def due(self, policy: SupportPolicy, now: datetime) -> list[UUID]:
        """Closed tickets of the policy past retention whose key is not yet erased."""
        kept = retention_of(policy)
        if kept is None:
            return []
        self.erasure.ticket_list.catch_up()
        before = self.erasure.ticket_list._time(now - kept)
        with self.dialect.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                self.dialect.sql(
                    "SELECT t.id FROM ticket_list t LEFT JOIN personal_data_keys k "
                    "ON k.key_id = t.id WHERE t.policy = :policy AND t.state = 'closed' "
                    "AND t.updated_at < :before AND k.erased_at IS NULL "
                    "ORDER BY t.updated_at LIMIT :limit"
                ),
                {"policy": policy.id, "before": before, "limit": BATCH},
            )
            return [UUID(str(row["id"])) for row in cursor.fetchall()]

    def run_once(self) -> int:
        """Erase what is due now, in every policy; returns how many tickets."""
        now = self.desk.clock.now()
        erased = 0
        for policy_id in self.desk.policies:
            policy = self.desk.policy(policy_id, at=now)
            for _ in range(1_000):  # batches; a bound, never an endless loop
                if not (tickets := self.due(policy, now)):
                    break
                for ticket_id in tickets:
                    self.erasure.erase_ticket(
                        ticket_id,
                        reason=f"retention period of policy {policy.id} ended",
                        by=ACTOR,
                    )
                erased += len(tickets)
        if erased:
            log.info("retention: erased the personal data of %d closed tickets", erased)
        return erased

    def start(self, interval: float) -> threading.Event:
        """Run every ``interval`` seconds in a daemon thread, the first round one interval
        after start-up; set the returned event to stop it."""
        stopping = threading.Event()

        def rounds() -> None:
            while not stopping.wait(interval):
                try:
                    self.run_once()
                except Exception:  # the next round tries again; never stop the service
                    log.exception("retention: a round failed")

        threading.Thread(target=rounds, name="retention", daemon=True).start()
        return stopping


def main() -> None:
    """``ticket-api-retention``: one round now, for a scheduler (cron, a Kubernetes CronJob)."""
    from ticket_api.main import create_app

    app = create_app()
    erased = RetentionJob(app.state.erasure).run_once()
    app.state.ticket_list.close()
    app.state.desk.close()
    print(f"erased the personal data of {erased} closed tickets past retention")
