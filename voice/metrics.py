"""Prometheus figures of calls, per process: how calls end (the in-progress gauge is read
from the call registry when /metrics is scraped)."""

from __future__ import annotations

from prometheus_client import Counter

CALLS_ENDED = Counter("frontdesk_calls_ended_total", "Calls finalized, by end reason",
                      ["reason"])
