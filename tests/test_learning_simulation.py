"""300 simulated cases through the real servers: the ranking learns which lines calm customers.

Every case opens with an angry customer. The simulated agent sends the
empathy line the assist offers first. The customer's next turn follows a
scripted response table: after one of the two calming lines the customer
calms down (writes a calm reply) with probability 0.85, after any other line
with probability 0.15; otherwise the reply stays angry. The texts are checked
first to read as those emotions to the served model, so the table reaches
the stored figures through the real NLU. A seeded generator makes the run
repeatable.

The test proves that script effectiveness ranks the calming lines first,
that the ranking shifts toward them while it still tries the others, and
that each suggestion's `why` carries the figures the table produced.
"""

import datetime as dt
import random
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests
import yaml

from deescalate.db.session import session_factory
from deescalate.kb.loader import line_id
from deescalate.learning.effectiveness import script_effectiveness
from deescalate.tools.build import ROOT
from deescalate.tools.stack import Stack, free_port

CASES = 300
SEED = 15
REFRESH_SECONDS = 5
CALMING_INDEXES = (3, 6)  # of the angry empathy lines (scripts_kb/empathy.yml) that need no case fact
CALM_AFTER = {"calming": 0.85, "other": 0.15}
OPENINGS = [
    "你们凭什么乱扣我的年费？我从来没开通过，气死我了！",
    "又扣了我一笔手续费，谁同意的？你们太过分了！",
    "我的钱莫名其妙被扣了，打了三次电话都没人管，太气人了！",
]
CALM_REPLIES = ["好的，谢谢你，我明白了。", "嗯，这样我就放心了，谢谢。", "行，那我等你们的消息，谢谢。"]
ANGRY_REPLIES = [
    "你说这些有什么用？钱到现在还没退，我非常生气！",
    "别跟我说套话，你们就是乱扣钱，太气人了！",
    "我不想听这些，赶紧把钱退给我，气死我了！",
]


class Client:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {stack.token}"

    def emotion(self, text: str) -> str:
        reply = self.http.post(
            f"{self.stack.rasa_url}/model/parse", params={"token": self.stack.token}, json={"text": text}, timeout=60
        )
        reply.raise_for_status()
        return reply.json()["emotion"]["name"]

    def say(self, case_id: str, text: str) -> Dict[str, Any]:
        reply = self.http.post(
            f"{self.stack.rasa_url}/webhooks/assist/webhook", json={"sender": case_id, "message": text}, timeout=60
        )
        reply.raise_for_status()
        return reply.json()

    def send(self, case_id: str, text: str, suggestion_id: str) -> None:
        body = {"sender": case_id, "text": text, "send": True, "suggestion_id": suggestion_id}
        reply = self.http.post(f"{self.stack.rasa_url}/webhooks/assist/agent", json=body, timeout=60)
        reply.raise_for_status()
        assert reply.json()["recorded"] is True


@pytest.fixture(scope="module")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The action server and Rasa on a fresh database, the figures refreshed every few seconds."""
    workdir = tmp_path_factory.mktemp("learning-sim")
    settings = yaml.safe_load((ROOT / "actions" / "learning.yml").read_text(encoding="utf-8"))
    settings["ranking"]["refresh_seconds"] = REFRESH_SECONDS
    (workdir / "learning.yml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    stack = Stack(
        rasa_port=free_port(),
        action_port=free_port(),
        db_url=f"sqlite:///{workdir / 'tracker.db'}",
        token="sim-token-" + workdir.name,
        log_dir=workdir / "log",
        model=trained_model,
        extra_env={
            "LEARNING_SETTINGS": str(workdir / "learning.yml"),
            "RATE_LIMITS_FILE": str(ROOT / "tests" / "data" / "ratelimit_suite.yml"),
        },
    )
    from deescalate.db.migrate import upgrade

    upgrade(stack.db_url)
    stack.start_actions()
    stack.start_rasa()
    try:
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()


def readable(client: Client, texts: List[str], emotion: str) -> List[str]:
    """The texts the served model reads as `emotion` (the table needs them to mean what they say)."""
    found = [text for text in texts if client.emotion(text) == emotion]
    assert found, f"none of the {emotion} texts reads as {emotion} to the model: {texts}"
    return found


def share(picks: List[str], lines: set) -> float:
    return sum(pick in lines for pick in picks) / len(picks)


def test_the_ranking_learns_which_lines_calm_customers(stack, kb):
    client = Client(stack)
    openings = readable(client, OPENINGS, "angry")
    calm, angry = readable(client, CALM_REPLIES, "calm"), readable(client, ANGRY_REPLIES, "angry")
    pool = [line_id(kb.source("empathy"), text) for text in kb.empathy["emotions"]["angry"]["lines"]]
    calming = {pool[i] for i in CALMING_INDEXES}
    rng = random.Random(SEED)
    picks: List[str] = []
    table_changes: Dict[str, List[float]] = {}  # what the response table made of each send
    started = time.monotonic()
    for number in range(CASES):
        case_id = f"sim-{number:03d}"
        answer = client.say(case_id, rng.choice(openings))
        assert answer["analysis"]["emotion"]["name"] == "angry"
        offered = [s for s in answer["suggestions"] if s["id"] in pool]
        assert offered, f"{case_id}: no angry empathy line offered"
        line = offered[0]
        client.send(case_id, line["text"], line["id"])
        picks.append(line["id"])
        calms = rng.random() < CALM_AFTER["calming" if line["id"] in calming else "other"]
        client.say(case_id, rng.choice(calm if calms else angry))
        table_changes.setdefault(line["id"], []).append(-3.0 if calms else 0.0)  # angry (3) -> calm (0) or angry
    elapsed = time.monotonic() - started

    # Script effectiveness ranks the calming lines first.
    today = dt.datetime.now(dt.timezone.utc).date()
    with session_factory(stack.db_url)() as session:
        rows = {r.line_id: r for r in script_effectiveness(session, today - dt.timedelta(days=1), today, kb=kb)}
    measured = sorted((r for r in rows.values() if r.line_id in pool and r.n >= 3), key=lambda r: r.mean_change)
    first, last = share(picks[:100], calming), share(picks[-100:], calming)
    others_late = {pick for pick in picks[-100:] if pick not in calming}
    print(
        f"\nsimulation: {CASES} cases in {elapsed:.0f} s; calming picks {first:.0%} of the first 100 cases, "
        f"{last:.0%} of the last 100; other lines picked late: {len(others_late)}"
    )
    for row in measured:
        mark = "calming" if row.line_id in calming else "other"
        low, high = (f"{x:+.2f}" if x is not None else "-" for x in (row.ci_low, row.ci_high))
        print(f"  {row.line_id} {mark:8} sent {row.sent:3} mean change {row.mean_change:+.2f} [{low}, {high}]")
    assert {r.line_id for r in measured[:2]} == calming, [(r.line_id, r.mean_change, r.n) for r in measured]
    for key, changes in table_changes.items():  # the stored figures are the table's, read through the NLU
        assert (rows[key].sent, rows[key].n) == (len(changes), len(changes))
        assert rows[key].mean_change == pytest.approx(sum(changes) / len(changes))

    # The ranking shifts toward them while it still tries the others.
    assert picks[0] not in calming  # nothing sent yet: ranked by fit alone, the best-fitting line
    assert last > first and last >= 0.75, (first, last)
    assert len(others_late) >= 2, others_late  # the exploration share keeps trying other lines

    # `why` explains it: the figures of the offered lines, as recorded.
    time.sleep(REFRESH_SECONDS + 1)
    client.say("sim-probe-warmup", openings[0])  # starts a refresh after the last send
    time.sleep(REFRESH_SECONDS + 1)
    explained = {}
    for number in range(12):
        for suggestion in client.say(f"sim-probe-{number}", openings[number % len(openings)])["suggestions"]:
            if suggestion["id"] in pool:
                explained[suggestion["id"]] = suggestion["why"]
    assert calming & set(explained)
    for key, why in explained.items():
        changes = table_changes.get(key, [])
        assert (why["used"], why["n"]) == (rows[key].sent, rows[key].n) == (len(changes), len(changes))
        expected = sum(changes) / len(changes) if changes else None
        assert why["effect"] == (pytest.approx(expected, abs=1e-3) if changes else None)
        assert isinstance(why["fit"], int)
