# The two commands of the README are `make run` and `make test`; each sets itself up
# (installs uv if missing, syncs the locked workspace) so a fresh clone needs nothing else.
SHELL := /bin/bash
UV := $(shell scripts/ensure-uv)
RUN := $(UV) run --locked
POLICIES ?= policies

.PHONY: help sync run tail mail trace test lint format contracts policy-check bench-calendar bench-api bench-relay bench-timers bench-notifier clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

sync:  ## install every package of the workspace, editable, at the locked versions
	@$(UV) sync --locked --quiet

run: sync  ## run the system: nats-server, PostgreSQL, sla-monitor :8001, ticket-api :8000
	@$(RUN) policy-check $(POLICIES)/*.yaml
	@TICKET_API_POLICIES_DIR=$(POLICIES) scripts/run-system

tail: sync  ## print ticket events as they reach NATS (with make run going)
	@$(RUN) events-tail

mail: sync  ## list the mail the running system sent (make run's local SMTP sink), the newest in full
	@$(RUN) notifier-mail $(ARGS)

trace: sync  ## a ticket's traces as a waterfall (make trace ARGS=BIT-000001), from make run's var/traces
	@$(RUN) supportdesk-trace $(ARGS)

test: sync  ## the whole test suite
	@$(RUN) pytest -n auto -q

lint: sync  ## ruff (lint + format) and mypy on every package
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy

format: sync  ## apply ruff's fixes and formatting
	@$(RUN) ruff check --fix .
	@$(RUN) ruff format .

contracts: sync  ## regenerate the published JSON Schemas and AsyncAPI document
	@$(RUN) contracts-export

policy-check: sync  ## validate policy files: make policy-check POLICIES=path/to/folder
	@$(RUN) policy-check $(POLICIES)/*.yaml

bench-calendar: sync  ## deadlines per second vs a minute-stepping baseline
	@$(RUN) python bench/calendar.py

bench-api: sync  ## REST commands/s and latency on PostgreSQL vs echo and plain-save baselines
	@$(RUN) python bench/api.py

bench-relay: sync  ## outbox relay catch-up events/s vs raw publish_async; commit -> consumer latency
	@$(RUN) python bench/relay.py

bench-notifier: sync  ## the notifier: events planned per second, mails sent per second (vs bare SMTP sends)
	@$(RUN) python bench/deliveries.py $(ARGS)

bench-timers: sync  ## SLA timers at 100k open tickets (ARGS=--million adds 1M): memory, arming, firing lag, recovery
	@$(RUN) python bench/timers.py $(ARGS)

clean:  ## remove caches and the virtualenvs
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis
