"""notifier: routes ticket and SLA events to people and integrations over their channels."""
