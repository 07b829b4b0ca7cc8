"""Prometheus figures of the agent's tools, per process."""

from __future__ import annotations

from prometheus_client import Counter

TOOL_CALLS = Counter("frontdesk_tool_calls_total", "Tool runs, by tool and outcome",
                     ["tool", "status"])
