"""The access audit trail without a server: recording, querying (`make audit`), retention (`make purge`)."""

import datetime as dt
import json
from pathlib import Path

import pytest

from deescalate import purge as purge_module
from deescalate.audit import AuditQuery, record_access
from deescalate.audit import main as audit_main
from deescalate.db.migrate import upgrade
from deescalate.db.models import AccessLog, Case, utcnow
from deescalate.db.session import session_factory
from deescalate.privacy import PrivacySettings


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    return url


def add_entry(url: str, days_ago: float, **fields: str) -> None:
    with session_factory(url)() as session:
        session.add(
            AccessLog(
                **{
                    "username": "wang",
                    "role": "trainer",
                    "action": "transcript",
                    "target": "case-1",
                    "address": "10.0.0.8",
                    "path": "/review/case/case-1",
                    **fields,
                },
                at=utcnow() - dt.timedelta(days=days_ago),
            )
        )
        session.commit()


def test_record_access_keeps_who_role_what_when_and_where(db_url):
    record_access("li", "supervisor", "case", "case-9", "192.0.2.4", "/console/case/case-9", url=db_url)
    with pytest.raises(ValueError):
        record_access("li", "supervisor", "edit", "case-9", "192.0.2.4", "/x", url=db_url)
    with session_factory(db_url)() as session:
        (row,) = session.query(AccessLog).all()
    assert (row.username, row.role, row.action, row.target, row.address, row.path) == (
        "li",
        "supervisor",
        "case",
        "case-9",
        "192.0.2.4",
        "/console/case/case-9",
    )
    assert abs((utcnow() - row.at).total_seconds()) < 60


def test_queries_filter_by_user_case_action_and_days(db_url):
    add_entry(db_url, 0)
    add_entry(db_url, 0, username="li", target="case-2", action="case")
    add_entry(db_url, 10, target="case-2")
    with session_factory(db_url)() as session:
        assert len(AuditQuery().rows(session)) == 3
        assert [r.username for r in AuditQuery(user="li").rows(session)] == ["li"]
        assert len(AuditQuery(target="case-2").rows(session)) == 2
        assert len(AuditQuery(action="transcript").rows(session)) == 2
        assert len(AuditQuery(since=dt.date.today() - dt.timedelta(days=1)).rows(session)) == 2
        assert len(AuditQuery(until=dt.date.today() - dt.timedelta(days=5)).rows(session)) == 1
        assert len(AuditQuery(limit=1).rows(session)) == 1


def test_make_audit_prints_the_matching_entries(db_url, capsys):
    add_entry(db_url, 0)
    add_entry(db_url, 0, username="li", target="case-2")
    assert audit_main(["--url", db_url, "--case", "case-2", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["username"], e["target"], e["action"], e["address"]) for e in lines] == [
        ("li", "case-2", "transcript", "10.0.0.8")
    ]
    assert audit_main(["--url", db_url, "--user", "wang"]) == 0
    out = capsys.readouterr()
    assert "case-1" in out.out and "case-2" not in out.out and "1 entries" in out.err
    with pytest.raises(SystemExit):
        audit_main(["--url", db_url, "--since", "yesterday"])


def test_the_trail_is_kept_longer_than_the_cases_it_names(db_url, capsys):
    settings = PrivacySettings.from_yaml()
    assert settings.audit_retention_days > settings.retention_days
    with session_factory(db_url)() as session:
        session.add(
            Case(
                case_id="case-1",
                channel="hotline",
                status="open",
                demand=[],
                escalation=[],
                updated_at=utcnow() - dt.timedelta(days=settings.retention_days + 5),
            )
        )
        session.commit()
    add_entry(db_url, settings.retention_days + 5)  # the case goes, its accesses stay
    add_entry(db_url, settings.audit_retention_days + 5, target="case-0")  # past the audit retention
    assert purge_module.main(["--url", db_url]) == 0
    assert "access audit entries        deleted 1" in capsys.readouterr().out
    with session_factory(db_url)() as session:
        assert session.get(Case, "case-1") is None
        assert [r.target for r in session.query(AccessLog).all()] == ["case-1"]
    with pytest.raises(SystemExit):  # never shorter than the cases
        purge_module.main(["--url", db_url, "--days", "180", "--audit-days", "30"])
