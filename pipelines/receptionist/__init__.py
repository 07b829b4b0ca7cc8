"""The offline default "LLM": a deterministic receptionist dialogue engine.

``engine`` decides the next action from the LLM context (pure Python); ``service``
wraps it as a Pipecat ``LLMService`` (``llm_model = "builtin/receptionist"``).
Import ``service`` lazily: it pulls in Pipecat.
"""

from pipelines.receptionist.engine import (
    TOOL_NAMES,
    Action,
    ClientFacts,
    ReceptionistEngine,
    ToolCall,
    next_action,
)

__all__ = ["TOOL_NAMES", "Action", "ClientFacts", "ReceptionistEngine", "ToolCall", "next_action"]
