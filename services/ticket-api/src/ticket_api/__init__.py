"""ticket-api: the REST API for clients and agents and the only writer of tickets.

Ticket aggregates live in the event store; the outbox relay publishes their events to NATS.
The package is filled in by the ticket-api work; today it only reserves its place in the
workspace so that every service installs against the same locked ``contracts``.
"""
