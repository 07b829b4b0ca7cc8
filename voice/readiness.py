"""Whether this process should be sent new calls, and if not, why.

``GET /readyz`` reports it to a load balancer; ``/voice`` applies the same answer to each
call, so a process that is loading its models, draining or over its load budget hands the
call back as busy (Twilio then tries no further, but a balancer that reads /readyz will
have stopped sending it here first).
"""

from __future__ import annotations

import asyncio

from voice.load import LoadMonitor
from voice.registry import CallRegistry

MODELS_LOADING = "models loading"
DRAINING = "draining"


class Readiness:
    def __init__(self, calls: CallRegistry, load: LoadMonitor) -> None:
        self.calls = calls
        self.load = load
        self._models = asyncio.Event()

    @property
    def models_loaded(self) -> bool:
        return self._models.is_set()

    def set_models_loaded(self) -> None:
        self._models.set()

    async def wait_for_models(self) -> None:
        await self._models.wait()

    def refusal(self) -> str | None:
        """Why a new call should not start here, or None."""
        if not self.models_loaded:
            return MODELS_LOADING
        if not self.calls.accepting:
            return DRAINING
        return self.load.over_budget()

    def reasons(self) -> list[str]:
        """Everything that keeps this process out of rotation (for /readyz)."""
        reasons = [r for r, on in ((MODELS_LOADING, not self.models_loaded),
                                   (DRAINING, not self.calls.accepting)) if on]
        over = self.load.over_budget()
        if over:
            reasons.append(over)
        if not self.calls.has_room() and self.calls.accepting:
            reasons.append(f"at capacity ({self.calls.limit} calls)")
        return reasons
