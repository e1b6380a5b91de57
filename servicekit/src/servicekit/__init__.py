"""What the services share at run time, kept apart from the wire contract.

`contracts` says what travels (policies, events, subjects) and imports no framework;
this package is how the services carry it: the consumer toolkit and inbox, the NATS and
PostgreSQL plumbing, the web edge (one problem type, one principal type, the OpenAPI
publisher), telemetry, the clocks and the operators' CLIs.
"""
