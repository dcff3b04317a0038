"""After a load test: what the tracker store and the case table hold, against
what the clients were answered.

Every customer turn of a load test carries its case id and turn number in
its text ("lt-…-c017 第7轮：…"). For each case the checker reads the stored
customer turns (events of type "user", in insertion order) and the case row,
and counts:

- stored: distinct turns found; duplicated: extra copies of a turn;
- lost: turns the client was answered for that are not stored;
- mixed: turns stored under another case's id;
- out of order: a turn stored after a later turn of the same case;
- case mismatches: cases whose row in `cases` does not count the stored turns.

A duplicate of a turn the client sent more than once (a retry after a lost
answer) is what at-least-once delivery allows and is reported as such; a
duplicate of a turn sent once is a fault.
"""

import re
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Set

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from deescalate.events import customer_texts

MARKER = re.compile(r"^(?P<case>\S+) 第(?P<turn>\d+)轮")


def turn_text(case_id: str, turn: int, utterance: str) -> str:
    """The text of one load-test turn: who and which turn, then a real utterance."""
    return f"{case_id} 第{turn}轮：{utterance}"


@dataclass
class ClientCase:
    """What the client knows of one case: turns answered and turns sent more than once."""

    case_id: str
    answered: Set[int]
    retried: Set[int]
    sent: int


@dataclass
class CheckReport:
    cases: int = 0
    stored_rows: int = 0
    stored: int = 0
    duplicated: int = 0
    duplicated_retried: int = 0
    duplicated_unexplained: int = 0
    lost: int = 0
    stored_unanswered: int = 0
    mixed: int = 0
    unreadable: int = 0
    out_of_order: int = 0
    case_rows_missing: int = 0
    case_mismatches: int = 0
    cases_table: bool = True
    examples: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.cases_table
            and not self.lost
            and not self.mixed
            and not self.unreadable
            and not self.out_of_order
            and not self.duplicated_unexplained
            and not self.case_rows_missing
            and not self.case_mismatches
        )

    def note(self, message: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(message)

    def as_dict(self) -> Dict[str, object]:
        return {**asdict(self), "ok": self.ok}


def stored_turns(connection, prefix: str) -> Dict[str, List[Optional[re.Match]]]:  # noqa: ANN001
    """Customer turns of the run's cases, per sender, in insertion order."""
    return {
        sender: [MARKER.match(text) for text in texts] for sender, texts in customer_texts(connection, prefix).items()
    }


def _check_case(report: CheckReport, client: ClientCase, markers: List[Optional[re.Match]]) -> int:
    """Counts for one case; returns how many customer turns its events hold."""
    seen: Dict[int, int] = {}
    last = 0
    for marker in markers:
        if marker is None:
            report.unreadable += 1
            report.note(f"{client.case_id}: a stored turn without its marker")
            continue
        if marker.group("case") != client.case_id:
            report.mixed += 1
            report.note(f"{client.case_id}: holds a turn of {marker.group('case')}")
            continue
        turn = int(marker.group("turn"))
        if turn < last:
            report.out_of_order += 1
            report.note(f"{client.case_id}: turn {turn} stored after turn {last}")
        last = max(last, turn)
        seen[turn] = seen.get(turn, 0) + 1
    for turn, count in seen.items():
        if count > 1:
            extra = count - 1
            report.duplicated += extra
            if turn in client.retried:
                report.duplicated_retried += extra
            else:
                report.duplicated_unexplained += extra
                report.note(f"{client.case_id}: turn {turn} stored {count} times, sent once")
    report.stored += len(seen)
    report.stored_rows += len(markers)
    for turn in sorted(client.answered - set(seen)):
        report.lost += 1
        report.note(f"{client.case_id}: turn {turn} answered but not stored")
    report.stored_unanswered += len(set(seen) - client.answered)
    return len(markers)


def check(db_url: str, prefix: str, clients: List[ClientCase]) -> CheckReport:
    """Compare the database with the clients' view of a run whose case ids start with `prefix`."""
    report = CheckReport(cases=len(clients))
    engine = create_engine(db_url, poolclass=NullPool, future=True)
    try:
        with engine.connect() as connection:
            turns = stored_turns(connection, prefix)
            report.cases_table = inspect(connection).has_table("cases")
            case_turns: Dict[str, int] = {}
            if report.cases_table:
                rows = connection.execute(
                    text("SELECT case_id, turns FROM cases WHERE case_id LIKE :prefix"), {"prefix": prefix + "%"}
                )
                case_turns = {case_id: count for case_id, count in rows}
    finally:
        engine.dispose()
    known = {client.case_id for client in clients}
    for sender in set(turns) - known:
        report.mixed += len(turns[sender])
        report.note(f"events under an unknown case id {sender}")
    for client in clients:
        count = _check_case(report, client, turns.get(client.case_id, []))
        if not report.cases_table or count == 0:
            continue
        if client.case_id not in case_turns:
            report.case_rows_missing += 1
            report.note(f"{client.case_id}: no row in cases")
        elif case_turns[client.case_id] != count:
            report.case_mismatches += 1
            report.note(f"{client.case_id}: cases.turns={case_turns[client.case_id]}, events hold {count}")
    return report
