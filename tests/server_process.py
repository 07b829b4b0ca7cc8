"""``python -m tests.server_process LINE...``: the app with scripted providers, as its own
process, configured from the environment like ``frontdesk serve`` (used to kill a server)."""

from __future__ import annotations

import os
import sys

import uvicorn

from frontdesk import logs
from frontdesk.app import create_app
from frontdesk.server import uvicorn_options
from frontdesk.settings import Settings
from tests.providers import ScriptedProviders


def main() -> None:
    settings = Settings.from_env(os.environ)
    logs.configure("WARNING")
    app = create_app(settings, providers=ScriptedProviders(sys.argv[1:]))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                **uvicorn_options(settings))


if __name__ == "__main__":
    main()
