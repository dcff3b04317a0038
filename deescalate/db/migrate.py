"""Brings the product's tables up to date: `python -m deescalate.db.migrate`.

The same as `alembic upgrade head` (alembic.ini at the repository root,
migrations in migrations/), callable from Python: the stack, the web app
and the tracker store run it before they use the tables.
"""

import sys
from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from deescalate.db.session import database_url

ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = ROOT / "alembic.ini"
# Databases made before migrations existed hold exactly this revision's tables.
BASELINE_REVISION = "0001"


def alembic_config(url: Optional[str] = None) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["url"] = url or database_url()
    return config


def current_revision(connection: Connection) -> Optional[str]:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision(config: Config) -> Optional[str]:
    return ScriptDirectory.from_config(config).get_current_head()


def _ensure_sqlite_folder(url: str) -> None:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)


def _migrate(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    if current_revision(connection) is None and inspect(connection).has_table("cases"):
        command.stamp(config, BASELINE_REVISION)
    command.upgrade(config, "head")


def upgrade(url: Optional[str] = None) -> None:
    """Create or migrate the product's tables in the database at `url`.

    Several processes may start at once (stack, web app, Rasa); when another
    one won the race, the database is at head and that is fine.
    """
    url = url or database_url()
    _ensure_sqlite_folder(url)
    config = alembic_config(url)
    engine = create_engine(url, poolclass=NullPool, future=True)
    try:
        with engine.begin() as connection:
            if current_revision(connection) == head_revision(config):
                return
        try:
            with engine.begin() as connection:
                _migrate(connection, config)
        except DBAPIError:
            with engine.connect() as connection:
                if current_revision(connection) != head_revision(config):
                    raise
    finally:
        engine.dispose()


if __name__ == "__main__":
    upgrade(sys.argv[1] if len(sys.argv) > 1 else None)
    print("database up to date")
