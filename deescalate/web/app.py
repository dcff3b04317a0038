"""The web server of the three surfaces, on Sanic (the framework Rasa runs on).

    python -m deescalate.web.app          # 127.0.0.1:$WEB_PORT (default 8000)

Each surface is a module with a blueprint `bp`; they read cases through
SQLAlchemy (deescalate/db) and talk to Rasa only through the assist API and
Socket.IO, never through Rasa internals.
"""
import importlib
import os
from pathlib import Path

from sanic import Sanic

WEB_DIR = Path(__file__).resolve().parent
BLUEPRINT_MODULES = ("auth", "console", "widget", "review")


def create_app(name: str = "deescalate_web") -> Sanic:
    app = Sanic(name)
    app.config.RASA_URL = os.environ.get("RASA_URL", "http://127.0.0.1:5005")
    app.config.ASSIST_API_TOKEN = os.environ.get("ASSIST_API_TOKEN", "")
    app.static("/static", str(WEB_DIR / "static"), name="static")
    for module in BLUEPRINT_MODULES:
        app.blueprint(importlib.import_module(f"deescalate.web.{module}").bp)
    return app


def main() -> None:
    create_app().run(host="127.0.0.1", port=int(os.environ.get("WEB_PORT", 8000)),
                     access_log=False, workers=1)


if __name__ == "__main__":
    main()
