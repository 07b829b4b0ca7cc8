"""Prometheus figures of the media path, per process (prometheus_client's registry).

Measured where the pipeline sees them: a turn's latency from Pipecat's latency breakdown,
a barge-in when the ``clear`` goes out, the pacing of agent audio at each packet sent.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TURN_LATENCY = Histogram(
    "frontdesk_turn_latency_seconds",
    "The caller's last word (as the server's VAD placed it) to the agent's first audio",
    buckets=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0))
BARGE_IN = Histogram(
    "frontdesk_barge_in_seconds",
    "The caller's turn starting over the agent (the VAD confirmed speech) to the clear"
    " sent to Twilio",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1.0))
CLEARS = Counter("frontdesk_clears_total", "Clears sent to Twilio (barge-ins and resets)")
PACING_LAG = Histogram(
    "frontdesk_outbound_pacing_lag_seconds",
    "How much later than the end of the previous packet's audio each agent audio packet"
    " went out, within continuous agent speech",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32))
