"""Key presses: the operator digit asks for a transfer; other digits go on to the agent."""

from __future__ import annotations

from pipecat.frames.frames import Frame, InputDTMFFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipelines.call_hooks import CallHooks


class OperatorDigit(FrameProcessor):
    def __init__(self, hooks: CallHooks, digit: str | None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._hooks = hooks
        self._digit = digit

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if (isinstance(frame, InputDTMFFrame) and self._digit is not None
                and frame.button.value == self._digit):
            self._hooks.on_operator_digit()
            return  # consumed: the agent does not also answer it
        await self.push_frame(frame, direction)
