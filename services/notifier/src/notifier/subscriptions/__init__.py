"""Webhook subscriptions: integrators' own receivers, managed through ``/v1/webhooks``.

The destinations file's integrations are set up by whoever deploys the notifier; a
subscription is set up by a tenant's admin over the API (create, list, test, rotate, pause),
and from then on receives that tenant's matching events through the same delivery log (ADR 20).
"""
