"""The management REST API."""
