"""Tickets: open, read, search, history and the lifecycle commands."""
