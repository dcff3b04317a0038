"""Accounts without a server: password hashing, signed sessions, users, first admin."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deescalate.db.migrate import upgrade
from deescalate.db.models import User
from deescalate.db.session import session_factory
from deescalate.tools.build import ROOT
from deescalate.web import auth
from deescalate.web.auth import accounts
from deescalate.web.auth import sessions as web_sessions


def test_password_hash_is_salted_scrypt_and_verifies():
    stored = auth.hash_password("柜台密码-2024")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(bytes.fromhex(salt)) == 16 and len(bytes.fromhex(digest)) == 32
    assert auth.verify_password("柜台密码-2024", stored)
    assert not auth.verify_password("柜台密码-2025", stored)
    assert auth.hash_password("柜台密码-2024") != stored  # a new salt each time


@pytest.mark.parametrize("stored", ["", "plain", "bcrypt$1$2$3$00$00", "scrypt$x$8$1$00$00", "scrypt$16384$8$1$zz$00"])
def test_malformed_hashes_never_verify(stored):
    assert auth.verify_password("anything", stored) is False


def test_session_cookie_is_signed_and_expires(monkeypatch):
    monkeypatch.setattr(web_sessions, "secret_key", lambda: b"first-secret")
    value = auth.encode_session({"sid": "abc", "uid": 7, "exp": time.time() + 60})
    assert auth.decode_session(value)["uid"] == 7

    payload, signature = value.split(".")
    forged = auth.encode_session({"sid": "abc", "uid": 1, "exp": time.time() + 60}).split(".")[0]
    assert auth.decode_session(f"{forged}.{signature}") is None  # other user, old signature
    assert auth.decode_session(f"{payload}.{'0' * len(signature)}") is None
    assert auth.decode_session(auth.encode_session({"sid": "abc", "uid": 7, "exp": time.time() - 1})) is None
    for junk in (None, "", "no-dot", "a.b.c"):
        assert auth.decode_session(junk) is None

    monkeypatch.setattr(web_sessions, "secret_key", lambda: b"another-secret")
    assert auth.decode_session(value) is None


def test_sessions_last_twelve_hours():
    assert auth.SESSION_SECONDS == 12 * 3600


@pytest.fixture()
def sessions(tmp_path):
    url = f"sqlite:///{tmp_path / 'web.db'}"
    upgrade(url)
    return url, session_factory(url)


def test_create_user_checks_role_name_password_and_duplicates(sessions):
    _url, factory = sessions
    with factory() as session:
        user = auth.create_user(session, "wang", "long-enough-1", "agent", display_name="王坐席")
        session.commit()
        assert user.id and auth.verify_password("long-enough-1", user.password_hash)
        for args in (
            ("li", "long-enough-1", "boss"),
            ("li", "short", "agent"),
            ("a b", "long-enough-1", "agent"),
            ("wang", "long-enough-1", "trainer"),
        ):
            with pytest.raises(ValueError):
                auth.create_user(session, *args)


def test_ensure_admin_creates_one_admin_and_keeps_its_password(sessions, tmp_path, monkeypatch):
    url, factory = sessions
    env_file = tmp_path / ".env"
    monkeypatch.setattr(accounts, "ENV_FILE", env_file)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    name, password = auth.ensure_admin(url)
    assert name == "admin" and password and len(password) >= 12
    assert f"ADMIN_PASSWORD={password}" in env_file.read_text()
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert auth.ensure_admin(url) == ("admin", password)  # not a second admin
    with factory() as session:
        admins = session.query(User).filter_by(role="admin").all()
        assert len(admins) == 1 and auth.verify_password(password, admins[0].password_hash)
        admins[0].password_hash = auth.hash_password("changed-by-admin")
        session.commit()
    assert auth.ensure_admin(url) == ("admin", None)  # no longer shown


def test_users_command_adds_a_user_from_stdin(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "deescalate.web.users"]
    added = subprocess.run(
        run + ["add", "zhao", "--role", "supervisor", "--password-stdin"],
        input="secret-pass-9\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert added.returncode == 0, added.stderr
    again = subprocess.run(
        run + ["add", "zhao", "--role", "agent", "--password-stdin"],
        input="secret-pass-9\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    listed = subprocess.run(run + ["list"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "zhao" in listed.stdout and "supervisor" in listed.stdout
    with session_factory(env["DATABASE_URL"])() as session:
        user = session.query(User).filter_by(username="zhao").one()
        assert auth.verify_password("secret-pass-9", user.password_hash)


def test_templates_escape_what_they_show(tmp_path):
    html = auth.templates.get_template("error.html").render(
        title="<script>x()</script>", message="<img src=x onerror=y()>", user=None, csrf_token="t"
    )
    assert "<script>x()" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html


def test_env_file_path_is_the_project_root():
    assert accounts.ENV_FILE == Path(ROOT) / ".env"
