"""Login lockout: failures kept in the database, so every instance and a restart see them.

A user name with LOGIN_FAILURES_ALLOWED failures within LOGIN_FAILURE_WINDOW
seconds is locked, even for the right password, until the oldest of them
leaves the window. A successful login clears the name's failures.
"""

import datetime as dt
from typing import Optional

from sqlalchemy import delete, func, select

from deescalate.db.models import LoginFailure, utcnow
from deescalate.web.auth.accounts import db_session

LOGIN_FAILURES_ALLOWED = 5
LOGIN_FAILURE_WINDOW = 300.0
NAME_CHARS = 128


def _key(username: str) -> str:
    return username[:NAME_CHARS]


def _window_start() -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=LOGIN_FAILURE_WINDOW)


def is_locked(username: str) -> bool:
    with db_session() as session:
        count = session.execute(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.username == _key(username), LoginFailure.at >= _window_start())
        ).scalar_one()
    return count >= LOGIN_FAILURES_ALLOWED


def record_failure(username: str, address: Optional[str]) -> None:
    with db_session() as session:
        session.execute(delete(LoginFailure).where(LoginFailure.at < _window_start()))  # old ones go
        session.add(LoginFailure(username=_key(username), address=(address or "")[:64]))
        session.commit()


def clear_failures(username: str) -> None:
    with db_session() as session:
        session.execute(delete(LoginFailure).where(LoginFailure.username == _key(username)))
        session.commit()
