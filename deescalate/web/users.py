"""Manage web accounts from the shell.

    python -m deescalate.web.users add NAME --role agent [--display-name 张三] [--password-stdin]
    python -m deescalate.web.users password NAME [--password-stdin]
    python -m deescalate.web.users disable NAME
    python -m deescalate.web.users list

Without --password-stdin the password is asked twice without echo. Roles:
agent (坐席), supervisor (主管), trainer (培训师), admin (管理员).
"""

import argparse
import getpass
import sys
from pathlib import Path
from typing import List, Optional

from deescalate.db.migrate import upgrade
from deescalate.db.models import ROLES, User
from deescalate.db.session import database_url
from deescalate.web.auth import ROLE_NAMES, create_user, db_session, hash_password


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _find(session, username: str) -> User:  # noqa: ANN001
    user = session.query(User).filter_by(username=username).first()
    if user is None:
        raise ValueError(f"no user {username!r}")
    return user


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deescalate.web.users", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--display-name")
    add.add_argument("--password-stdin", action="store_true")
    password = commands.add_parser("password", help="set a new password")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true")
    commands.add_parser("disable", help="deactivate a user").add_argument("username")
    commands.add_parser("list", help="list users")
    args = parser.parse_args(argv)

    url = database_url()
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    upgrade()
    try:
        with db_session() as session:
            if args.command == "add":
                user = create_user(
                    session, args.username, read_password(args.password_stdin), args.role, args.display_name
                )
                print(f"created {user.username} ({ROLE_NAMES[user.role]})")
            elif args.command == "password":
                user = _find(session, args.username)
                new = read_password(args.password_stdin)
                if len(new) < 8:
                    raise ValueError("password must have at least 8 characters")
                user.password_hash = hash_password(new)
                print(f"password of {user.username} changed; their sessions have ended")
            elif args.command == "disable":
                _find(session, args.username).active = False
                print(f"disabled {args.username}")
            else:
                for user in session.query(User).order_by(User.username):
                    state = "" if user.active else "  (disabled)"
                    print(f"{user.username:20} {user.role:11} {user.display_name or ''}{state}")
            session.commit()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
