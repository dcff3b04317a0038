"""The web secret and the accounts: users, the first admin, database sessions."""

import functools
import os
import secrets
from pathlib import Path
from typing import Optional, Tuple

from sqlalchemy.orm import Session

from deescalate.db.models import ROLES, User
from deescalate.db.session import session_factory
from deescalate.web.auth.passwords import hash_password, verify_password

ENV_FILE = Path(__file__).resolve().parents[3] / ".env"


def _env_file_value(name: str) -> Optional[str]:
    path = ENV_FILE
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                if key.strip() == name and value.strip():
                    return value.strip()
    return None


def _keep_in_env_file(name: str, value: str) -> None:
    path = ENV_FILE
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{name}={value}\n")
    path.chmod(0o600)


def web_secret() -> str:
    """WEB_SECRET from the environment, else from .env, else a new one kept in .env."""
    secret = os.environ.get("WEB_SECRET") or _env_file_value("WEB_SECRET")
    if not secret:
        secret = secrets.token_urlsafe(32)
        _keep_in_env_file("WEB_SECRET", secret)
    return secret


@functools.lru_cache(maxsize=1)
def secret_key() -> bytes:
    return web_secret().encode("utf-8")


def db_session() -> Session:
    """A new SQLAlchemy session on DATABASE_URL (use as a context manager)."""
    return session_factory()()


def create_user(session: Session, username: str, password: str, role: str, display_name: Optional[str] = None) -> User:
    """Add a user; the caller commits. Raises ValueError on a bad role, name or password."""
    username = username.strip()
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or any(ch.isspace() for ch in username):
        raise ValueError("user name must be 1-64 characters without spaces")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    if session.query(User).filter_by(username=username).first() is not None:
        raise ValueError(f"user {username!r} already exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name or username,
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def ensure_admin(url: Optional[str] = None, username: str = "admin") -> Tuple[str, Optional[str]]:
    """Make sure an active admin exists; create `admin` on first run.

    Returns (user name, password) when the password is known from ADMIN_PASSWORD
    (environment or .env) and still valid, else (user name, None). A generated
    password is kept in .env as ADMIN_PASSWORD so it can be shown again.
    """
    from deescalate.db.migrate import upgrade

    upgrade(url)
    known = os.environ.get("ADMIN_PASSWORD") or _env_file_value("ADMIN_PASSWORD")
    with session_factory(url)() as session:
        admin = session.query(User).filter_by(role="admin", active=True).order_by(User.id).first()
        if admin is None:
            password = known or secrets.token_urlsafe(12)
            admin = create_user(session, username, password, "admin", display_name="管理员")
            session.commit()
            if not known:
                _keep_in_env_file("ADMIN_PASSWORD", password)
            return admin.username, password
        if known and verify_password(known, admin.password_hash):
            return admin.username, known
        return admin.username, None
