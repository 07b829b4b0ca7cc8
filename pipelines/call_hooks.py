"""What a call's pipeline reports back to whoever runs the call (voice.session.CallSession)."""

from __future__ import annotations

from typing import Any, Protocol


class CallHooks(Protocol):
    def on_turn(self, role: str, content: str, timestamp: str, interrupted: bool) -> None:
        """A user or assistant turn finished (queued for the database, never blocks)."""

    def on_turn_metrics(self, metrics: dict[str, Any]) -> None:
        """Latency figures of one agent turn."""

    def on_twilio_stop(self) -> None:
        """Twilio sent ``stop``: the caller hung up or the call ended."""

    def on_client_disconnected(self) -> None:
        """The media socket closed."""

    def on_bot_stopped_speaking(self) -> None:
        """The agent's current utterance has been sent in full."""

    async def end_call(self, reason: str) -> None:
        """Hang up once the agent's current reply has been spoken."""
