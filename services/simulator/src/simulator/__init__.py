"""A month of support in minutes: simulated traffic through the running services, the SLA
report of any period, and a policy change replayed on stored history before it goes live."""
