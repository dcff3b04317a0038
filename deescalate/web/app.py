"""The web server of the three surfaces, on Sanic (the framework Rasa runs on).

    python -m deescalate.web.app          # 127.0.0.1:$WEB_PORT (default 8000)

Each surface is a module with a blueprint `bp`; they read cases through
SQLAlchemy (deescalate/db) and talk to Rasa only through the assist API and
Socket.IO, never through Rasa internals.
"""

import importlib
import os
from pathlib import Path
from urllib.parse import unquote

from sanic import Sanic
from sanic.exceptions import NotFound
from sanic.request import Request

WEB_DIR = Path(__file__).resolve().parent
BLUEPRINT_MODULES = (
    "auth",
    "console",
    "console_stream",
    "widget",
    "review",
    "review_learning",
    "review_scripts",
    "audit",
)


async def refuse_missing_static_files(request: Request) -> None:
    """404 unless /static/<name> is a regular file: Sanic's static handler answers
    500 for a directory, a NUL byte or a name the file system refuses."""
    if not request.path.startswith("/static/"):
        return
    name = unquote(request.path[len("/static/") :])
    try:
        found = "\x00" not in name and (WEB_DIR / "static" / name).is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        raise NotFound("File not found")


def create_app(name: str = "deescalate_web") -> Sanic:
    app = Sanic(name)
    app.config.RASA_URL = os.environ.get("RASA_URL", "http://127.0.0.1:5005")
    app.config.ASSIST_API_TOKEN = os.environ.get("ASSIST_API_TOKEN", "")
    app.static("/static", str(WEB_DIR / "static"), name="static")
    app.register_middleware(refuse_missing_static_files, "request")
    for module in BLUEPRINT_MODULES:
        app.blueprint(importlib.import_module(f"deescalate.web.{module}").bp)
    return app


def main() -> None:
    create_app().run(host="127.0.0.1", port=int(os.environ.get("WEB_PORT", 8000)), access_log=False, workers=1)


if __name__ == "__main__":
    main()
