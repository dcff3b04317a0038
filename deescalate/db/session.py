"""Engine and sessions for the product's tables, from DATABASE_URL."""

import os
from functools import lru_cache
from typing import Any, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import SingletonThreadPool

DEFAULT_URL = "sqlite:///var/tracker.db"


def database_url() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_URL)


@lru_cache(maxsize=None)
def get_engine(url: Optional[str] = None) -> Engine:
    url = url or database_url()
    engine = create_engine(url, future=True, pool_pre_ping=True)
    use_sqlite_pragmas(engine)
    return engine


def sqlite_tracker_engine(url: Any) -> Engine:
    """An engine for the SQLite tracker store that keeps its connection open.

    SQLAlchemy gives file databases no pool, so every save would open the file
    and, closing it as its last connection, fold the write-ahead log back into
    the database: most of a save's cost. One connection per thread is kept."""
    engine = create_engine(url, poolclass=SingletonThreadPool, pool_size=8)
    use_sqlite_pragmas(engine)
    return engine


def use_sqlite_pragmas(engine: Engine) -> None:
    """On SQLite, every new connection of `engine` writes ahead and waits for a busy writer.

    Write-ahead logging lets readers (console, review) read while Rasa writes,
    and a commit syncs the log once instead of the journal and the database.
    The tracker store's engine (Rasa builds it) and ours both use it. Nothing
    on other databases."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection, _record):  # noqa: ANN001
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def session_factory(url: Optional[str] = None) -> sessionmaker:
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False)
