"""One log line per event; Pipecat's own (loguru) output held at WARNING."""

from __future__ import annotations

import logging
import sys


def configure(level: str = "INFO", *, pipecat_level: str = "WARNING") -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", force=True)
    for noisy in ("uvicorn.access", "httpx", "aiohttp.access", "pgserver", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=pipecat_level if level != "DEBUG" else "DEBUG",
               format="{time:YYYY-MM-DD HH:mm:ss,SSS} {level: <7} pipecat: {message}")
