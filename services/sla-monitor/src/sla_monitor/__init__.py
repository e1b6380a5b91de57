"""sla-monitor: SLA clocks, breach timers, escalation and abandonment countdowns.

It consumes ticket events, computes deadlines with ``contracts.calendar`` on each policy's
business calendar and serves projections to dashboards.
"""
