"""Requests that arrive by email."""
