"""HTTP entry points of ticket-api, organised by feature (tickets, policies, health)."""
