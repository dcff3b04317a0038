"""People's actions on knowledge-base lines: an agent's insert, a supervisor's pin or retirement.

Every action is a new row of `script_actions` (who, role, when, which line,
which case); nothing is updated or deleted. A supervisor's pin, unpin,
retire and restore is also written to the access audit trail
(deescalate/audit.py, action `script_line`). A line's state is its latest
pin/unpin/retire/restore row: `pinned`, `retired` or none; unpin and restore
undo a pin and a retirement.
"""

import re
from typing import Dict, List, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deescalate.audit import record_access
from deescalate.db.models import SUPERVISOR_ROLES, ScriptAction

LINE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
STATE_ACTIONS = {"pin": "pinned", "retire": "retired", "unpin": None, "restore": None}


def valid_line_id(value: object) -> bool:
    return isinstance(value, str) and bool(LINE_ID.match(value))


def record_insert(session: Session, line_id: str, username: str, role: str, case_id: str) -> None:
    """An agent put the line into a draft; the caller commits."""
    if not valid_line_id(line_id):
        raise ValueError("建议编号无效")
    session.add(ScriptAction(line_id=line_id, action="insert", username=username[:64], role=role[:16], case_id=case_id))


def set_line_state(
    session: Session,
    line_id: str,
    action: str,
    username: str,
    role: str,
    note: Optional[str] = None,
    address: Optional[str] = None,
    path: Optional[str] = None,
    url: Optional[str] = None,
) -> Optional[str]:
    """Pin, unpin, retire or restore a line; commits, audits, and returns the line's new state.

    Only supervisors and admins may; raises PermissionError otherwise and
    ValueError for an unknown action or a malformed line id. `url` is the
    database of the audit trail (default DATABASE_URL).
    """
    if role not in SUPERVISOR_ROLES:
        raise PermissionError("只有主管可以置顶或停用话术")
    if action not in STATE_ACTIONS:
        raise ValueError("未知的操作")
    if not valid_line_id(line_id):
        raise ValueError("话术编号无效")
    clean_note = " ".join(str(note or "").split())[:256] or None
    session.add(ScriptAction(line_id=line_id, action=action, username=username[:64], role=role[:16], note=clean_note))
    session.commit()
    record_access(username, role, "script_line", f"{action} {line_id}", address, path, url=url)
    return STATE_ACTIONS[action]


def line_states(session: Session) -> Dict[str, str]:
    """Every line that is pinned or retired now: line id -> `pinned` or `retired`."""
    latest = (
        select(func.max(ScriptAction.id))
        .where(ScriptAction.action.in_(list(STATE_ACTIONS)))
        .group_by(ScriptAction.line_id)
        .scalar_subquery()
    )
    rows = session.execute(select(ScriptAction.line_id, ScriptAction.action).where(ScriptAction.id.in_(latest)))
    return {str(line): state for line, action in rows if (state := STATE_ACTIONS.get(str(action)))}


def line_history(session: Session, line_id: str, limit: int = 50) -> List[Dict[str, object]]:
    """A line's pin and retirement history, newest first."""
    rows = session.scalars(
        select(ScriptAction)
        .where(ScriptAction.line_id == line_id, ScriptAction.action.in_(list(STATE_ACTIONS)))
        .order_by(ScriptAction.id.desc())
        .limit(limit)
    )
    return [
        {"at": r.at.isoformat(timespec="seconds"), "action": r.action, "by": r.username, "note": r.note} for r in rows
    ]
