"""Tenants, contracted spaces, contacts, staff and API keys: the directory's admin API."""
