"""The caller's audio ends at the user aggregator, which runs the VAD on it.

Pipecat's user aggregator passes every input audio frame on, so without this stop each
20 ms of caller audio would also hop through the LLM, TTS, marker, output and assistant
processors, none of which reads it (the recording is taken in the serializer).
"""

from __future__ import annotations

from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class CallerAudioStop(FrameProcessor):
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            return
        await self.push_frame(frame, direction)
