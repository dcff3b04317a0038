"""SQLAlchemy models of the product's own tables.

They live in the same database as Rasa's tracker store (`DATABASE_URL`):
SQLite by default, PostgreSQL in deployment. Schema changes go through
Alembic migrations in migrations/.
"""

import datetime as dt
from typing import Any, Dict

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import declarative_base

Base: Any = declarative_base()  # SQLAlchemy 1.4 without its mypy plugin

ROLES = ("agent", "supervisor", "trainer", "admin")
# Who may pin, retire and restore knowledge-base lines, or approve: the one list.
SUPERVISOR_ROLES = ("supervisor", "admin")
CASE_STATUSES = ("open", "in_progress", "awaiting_approval", "resolved", "closed")
CHANNELS = ("hotline", "chat", "counter")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Case(Base):
    """One complaint conversation: what the agent console, trainers and supervisors see.

    Updated from the tracker after every turn; fields the agent edits
    (demand, first handler, narrative, status) are kept when set by a person.
    """

    __tablename__ = "cases"

    case_id = Column(String(128), primary_key=True)  # Rasa sender id
    channel = Column(String(16), nullable=False, default="hotline")
    domain = Column(String(16))
    cause = Column(String(64), index=True)
    demand = Column(JSON, nullable=False, default=list)  # contract demand values
    demand_note = Column(Text)  # the agent's own words, editable
    amount = Column(Float)
    approval_tier = Column(Integer)
    approval_role = Column(String(64))
    first_handler = Column(String(64))  # username of the first agent
    status = Column(String(24), nullable=False, default="open", index=True)
    handoff = Column(Boolean, nullable=False, default=False, index=True)  # waiting for a person
    emotion_peak = Column(String(16))
    emotion_last = Column(String(16))
    escalation = Column(JSON, nullable=False, default=list)
    risk = Column(String(8), index=True)
    stage = Column(String(24))
    turns = Column(Integer, nullable=False, default=0)  # customer turns
    taboo_hits = Column(Integer, nullable=False, default=0)
    narrative = Column(Text)  # edited by the agent; else built from turns
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    reply_deadline = Column(DateTime, index=True)

    def as_dict(self) -> Dict[str, Any]:
        result = {c.name: getattr(self, c.name) for c in self.__table__.columns}
        for key in ("created_at", "updated_at", "reply_deadline"):
            if result[key] is not None:
                result[key] = result[key].isoformat(timespec="seconds")
        return result


class User(Base):
    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), unique=True, nullable=False)
    display_name = Column(String(64))
    password_hash = Column(String(256), nullable=False)  # scrypt, see deescalate/web/auth/passwords.py
    role = Column(String(16), nullable=False)  # one of ROLES
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Correction(Base):
    """A trainer's corrected label for one customer turn, exported as NLU data."""

    __tablename__ = "corrections"

    id = Column(Integer, primary_key=True)
    case_id = Column(String(128), ForeignKey("cases.case_id", ondelete="CASCADE"), index=True, nullable=False)
    event_id = Column(Integer, nullable=False)  # events.id of the user turn
    text = Column(Text, nullable=False)  # masked text of the turn
    predicted_intent = Column(String(64))
    predicted_emotion = Column(String(16))
    intent = Column(String(64))  # corrected value (None = unchanged)
    emotion = Column(String(16))
    trainer = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    exported_at = Column(DateTime)


class WebSession(Base):
    """A signed-in web session; every web-server instance reads the same rows.

    The cookie holds the session id; the row holds its SHA-256, so a copy of
    the table does not hand out sessions. Logging out deletes the row.
    """

    __tablename__ = "web_sessions"

    id_hash = Column(String(64), primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False, index=True)
    address = Column(String(64))


class LoginFailure(Base):
    """One failed login, counted for the lockout by every instance."""

    __tablename__ = "login_failures"

    id = Column(Integer, primary_key=True)
    username = Column(String(128), nullable=False, index=True)  # as typed, cut to 128 characters
    address = Column(String(64))
    at = Column(DateTime, nullable=False, default=utcnow, index=True)


AUDIT_ACTIONS = (
    "queue",
    "overdue",
    "case",
    "case_list",
    "transcript",
    "export",
    "dashboard",
    "audit",
    "api_case",
    "script_line",
)


class AccessLog(Base):
    """Who viewed which case, transcript, export or dashboard, and from where.

    Written once per view and never updated: no web route changes or deletes
    a row; only `make purge` removes rows older than the audit retention.
    """

    __tablename__ = "access_log"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    username = Column(String(64), nullable=False, index=True)
    role = Column(String(16), nullable=False)
    action = Column(String(16), nullable=False, index=True)  # one of AUDIT_ACTIONS
    target = Column(String(256), index=True)  # case id, export name, filters
    address = Column(String(64))
    path = Column(String(512))

    def as_dict(self) -> Dict[str, Any]:
        result = {c.name: getattr(self, c.name) for c in self.__table__.columns}
        result["at"] = self.at.isoformat(timespec="seconds") if self.at else None
        return result


SCRIPT_ACTIONS = ("insert", "pin", "unpin", "retire", "restore")


class ScriptAction(Base):
    """One person's action on a knowledge-base line: an agent inserted it into a draft,
    or a supervisor pinned, unpinned, retired or restored it.

    Rows are only added. A line's pin state is its latest pin/unpin/retire/restore
    row, so every change is kept and undone by the opposite action.
    """

    __tablename__ = "script_actions"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    line_id = Column(String(64), nullable=False, index=True)  # a suggestion id (deescalate.kb.loader.line_id)
    action = Column(String(16), nullable=False, index=True)  # one of SCRIPT_ACTIONS
    username = Column(String(64), nullable=False)
    role = Column(String(16), nullable=False)
    case_id = Column(String(128))  # the case an insert happened in
    note = Column(String(256))  # a supervisor's reason for a pin or retirement
