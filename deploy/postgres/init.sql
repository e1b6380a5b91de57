-- One server, one database per service (docker-compose): the event store, the SLA projection,
-- the delivery log.
CREATE DATABASE tickets;
CREATE DATABASE sla;
CREATE DATABASE notifier;
