"""What a call's pipeline reports back to whoever runs the call (voice.session.CallSession).

Every hook is called from inside the pipeline and must not block it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class CallHooks(Protocol):
    def on_user_turn(self, content: str, timestamp: str) -> None:
        """The caller finished a turn."""

    def on_assistant_turn(self, content: str, timestamp: str, interrupted: bool,
                          fix_context: Callable[[str], None]) -> None:
        """The agent finished (or was cut off in) a turn; ``content`` is empty when it was cut
        off before any text was spoken. ``fix_context(heard)`` rewrites the turn in the LLM
        context to what the caller actually heard."""

    def on_turn_metrics(self, metrics: dict[str, Any]) -> None:
        """Latency figures of one agent turn."""

    def on_user_speaking(self) -> None:
        """The caller started a turn."""

    def on_clear_sent(self) -> None:
        """A ``clear`` went out: Twilio drops the agent audio it holds (a barge-in)."""

    def on_user_idle(self) -> None:
        """The caller has said nothing for the silence timeout since the agent stopped."""

    def on_operator_digit(self) -> None:
        """The caller pressed the key that asks for a person."""

    def on_twilio_stop(self) -> None:
        """Twilio sent ``stop``: the call is over on Twilio's side."""

    def on_client_disconnected(self) -> None:
        """The media socket closed."""

    def on_send_timeout(self) -> None:
        """A send to Twilio did not complete in time: the socket is half dead."""

    def call_ending(self) -> bool:
        """A goodbye, hang-up or transfer is under way: the caller can no longer change it."""

    def on_bot_stopped_speaking(self) -> None:
        """The agent's current utterance has been sent in full."""
