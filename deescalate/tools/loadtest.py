"""Load test of the scale-out stack, with one Rasa instance killed mid-way.

    python -m deescalate.tools.loadtest        # what `make test-scale` calls

Starts the scale-out stack (deescalate/tools/scale.py) unless it is up, drives
LOAD_CASES concurrent cases (200) of LOAD_TURNS customer turns (10) each
through haproxy, and when LOAD_KILL_AT (0.5) of all turns are answered kills
one Rasa instance with SIGKILL and starts it again. Then it checks the
PostgreSQL tracker store and case table (deescalate/tools/loadcheck.py), prints
the counts, writes results/scale.json (LOAD_RESULTS moves it), and stops the stack if it started it
(LOAD_KEEP=1 keeps it). Exit code 0 only when the check passes.

Each case sends its turns one after another, as a hotline does. Retry
policy: a turn whose request failed with a connection error, a time-out
(LOAD_TIMEOUT, 150 s) or a 5xx status is sent again, with the same text and
the same `message_id`, up to LOAD_ATTEMPTS (8) times, waiting 0.5 s, 1 s,
2 s … (at most 8 s, plus up to 50 % jitter) in between; 4xx answers are not
retried. A retried turn may already have been processed once (the instance
died after storing it but before answering): the assist API then answers
from the store instead of processing it again. The checker still counts any
turn stored twice. Every loop is bounded in attempts and the
whole run in time (LOAD_DEADLINE, 540 s).
"""

import asyncio
import json
import os
import random
import re
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import aiohttp
import yaml

from deescalate.tools.build import ROOT
from deescalate.tools.loadcheck import CheckReport, ClientCase, check, turn_text
from deescalate.tools.scale import (
    ScaleSettings,
    down,
    is_up,
    kill_instance,
    load_state,
    save_state,
    start_rasa_instance,
    up,
    wait_rasa,
)

RESULTS = ROOT / "results" / "scale.json"
UTTERANCE_FILES = ROOT / "tests" / "nlu_test"
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
RETRY_STATUSES = range(500, 600)
KILLED = "rasa1"


def sample_utterances(folder: Path = UTTERANCE_FILES) -> List[str]:
    """Customer utterances of the held-out NLU split, annotations removed."""
    texts = []
    for path in sorted(folder.glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            for example in block.get("examples") or []:
                raw = example.get("text") if isinstance(example, dict) else None
                if isinstance(raw, str) and raw.strip():
                    texts.append(ANNOTATION.sub(r"\1", raw.strip()))
    return texts


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass(frozen=True)
class LoadSettings:
    cases: int = 200
    turns: int = 10
    kill_at: float = 0.5
    timeout: float = 150.0
    attempts: int = 8
    backoff: float = 0.5
    backoff_cap: float = 8.0
    deadline: float = 540.0

    @classmethod
    def from_env(cls) -> "LoadSettings":
        return cls(
            cases=int(_env_number("LOAD_CASES", cls.cases)),
            turns=int(_env_number("LOAD_TURNS", cls.turns)),
            kill_at=_env_number("LOAD_KILL_AT", cls.kill_at),
            timeout=_env_number("LOAD_TIMEOUT", cls.timeout),
            attempts=int(_env_number("LOAD_ATTEMPTS", cls.attempts)),
            deadline=_env_number("LOAD_DEADLINE", cls.deadline),
        )


@dataclass
class Turn:
    turn: int
    answered: bool = False
    attempts: int = 0
    errors: List[str] = field(default_factory=list)
    served_by: str = ""
    answered_at: float = 0.0
    replayed: bool = False  # answered from the store: an earlier attempt had been processed


@dataclass
class Run:
    """What the clients saw, shared by the case tasks and the fault injector."""

    settings: LoadSettings
    url: str
    token: str
    prefix: str
    utterances: List[str]
    started: float = field(default_factory=time.monotonic)
    answered: int = 0
    errors: List[Dict[str, Any]] = field(default_factory=list)
    cases: Dict[str, List[Turn]] = field(default_factory=dict)
    kill: Dict[str, Any] = field(default_factory=dict)
    progress: Optional[asyncio.Event] = None  # made inside the event loop

    def now(self) -> float:
        return round(time.monotonic() - self.started, 3)


async def send_turn(session: aiohttp.ClientSession, run: Run, case_id: str, turn: Turn, text: str) -> None:
    """One customer turn, retried by the policy in the module docstring."""
    for attempt in range(1, run.settings.attempts + 1):
        turn.attempts = attempt
        error = ""
        try:
            # The same message_id on every attempt: a turn already processed is not processed again.
            body = {"sender": case_id, "message": text, "message_id": f"{case_id}-t{turn.turn:02d}"}
            async with session.post(run.url, json=body, headers={"Authorization": f"Bearer {run.token}"}) as reply:
                content = await reply.read()
                if reply.status == 200:
                    turn.replayed = json.loads(content).get("replayed") is True
                    turn.answered, turn.served_by, turn.answered_at = (
                        True,
                        reply.headers.get("X-Served-By", ""),
                        run.now(),
                    )
                    run.answered += 1
                    if run.progress is not None:
                        run.progress.set()
                    return
                error = f"http_{reply.status}"
                if reply.status not in RETRY_STATUSES:
                    turn.errors.append(error)
                    run.errors.append({"at": run.now(), "kind": error, "case": case_id, "turn": turn.turn})
                    return
        except asyncio.TimeoutError:
            error = "timeout"
        except aiohttp.ClientConnectionError as exc:
            error = f"connection:{type(exc).__name__}"
        turn.errors.append(error)
        run.errors.append({"at": run.now(), "kind": error, "case": case_id, "turn": turn.turn})
        if attempt < run.settings.attempts:
            delay = min(run.settings.backoff * 2 ** (attempt - 1), run.settings.backoff_cap)
            await asyncio.sleep(delay * (1 + random.random() / 2))


async def run_case(session: aiohttp.ClientSession, run: Run, index: int) -> None:
    case_id = f"{run.prefix}c{index:03d}"
    turns = run.cases.setdefault(case_id, [])
    for number in range(1, run.settings.turns + 1):
        utterance = run.utterances[(index * 7919 + number * 104729) % len(run.utterances)]
        turn = Turn(number)
        turns.append(turn)
        await send_turn(session, run, case_id, turn, turn_text(case_id, number, utterance))


async def kill_and_restart(run: Run, scale: ScaleSettings, total: int) -> None:
    """SIGKILL one Rasa instance once `kill_at` of the turns are answered, then start it again."""
    progress = run.progress
    assert progress is not None, "made by the run before the turns are sent"
    while run.answered < total * run.settings.kill_at:
        progress.clear()
        await progress.wait()
    state = load_state(scale)
    pid = state["pids"][KILLED]
    run.kill.update({"instance": KILLED, "pid": pid, "answered_before": run.answered, "killed_at": run.now()})
    kill_instance(state, KILLED, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)  # reap it when this process started it
    except ChildProcessError:
        pass
    index = int(KILLED[len("rasa") :])
    stack = start_rasa_instance(scale, state, index)
    save_state(scale, state)
    run.kill["restarted_at"] = run.now()
    await asyncio.get_running_loop().run_in_executor(None, wait_rasa, stack)
    run.kill.update({"ready_at": run.now(), "answered_when_ready": run.answered})


async def drive(run: Run, scale: ScaleSettings) -> None:
    total = run.settings.cases * run.settings.turns
    timeout = aiohttp.ClientTimeout(total=run.settings.timeout)
    connector = aiohttp.TCPConnector(limit=run.settings.cases + 10)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        chaos = asyncio.create_task(kill_and_restart(run, scale, total))
        cases = asyncio.gather(*(run_case(session, run, i) for i in range(run.settings.cases)))
        await asyncio.wait_for(cases, run.settings.deadline)
        run.kill["load_done_at"] = run.now()
        remaining = max(5.0, run.settings.deadline - run.now())
        await asyncio.wait_for(chaos, remaining)  # the restarted instance must come back


def client_cases(run: Run) -> List[ClientCase]:
    return [
        ClientCase(
            case_id,
            answered={t.turn for t in turns if t.answered},
            retried={t.turn for t in turns if t.attempts > 1},
            sent=len(turns),
        )
        for case_id, turns in run.cases.items()
    ]


def summary(run: Run, report: CheckReport, duration: float) -> Dict[str, Any]:
    turns = [t for turns in run.cases.values() for t in turns]
    killed_at = run.kill.get("killed_at", 0.0)
    ready_at = run.kill.get("ready_at", killed_at)
    return {
        "cases": run.settings.cases,
        "turns_per_case": run.settings.turns,
        "turns_sent": len(turns),
        "requests": sum(t.attempts for t in turns),
        "answered": sum(t.answered for t in turns),
        "unanswered": sum(not t.answered for t in turns),
        "retried_turns": sum(t.attempts > 1 for t in turns),
        "replayed_turns": sum(t.replayed for t in turns),
        "client_errors": dict(Counter(e["kind"] for e in run.errors)),
        "client_errors_kill_to_ready": sum(killed_at <= e["at"] <= ready_at + 5 for e in run.errors),
        "served_by": dict(Counter(t.served_by for t in turns if t.answered)),
        "served_by_restarted_instance_after_ready": sum(
            t.served_by == KILLED and t.answered_at > ready_at for t in turns
        ),
        "kill": run.kill,
        "duration_s": round(duration, 1),
        "turns_per_second": round(sum(t.answered for t in turns) / max(duration, 1e-9), 1),
        "check": report.as_dict(),
    }


def print_summary(result: Dict[str, Any]) -> None:
    check_ = result["check"]
    kill = result["kill"]
    print(f"""
load test: {result["cases"]} cases x {result["turns_per_case"]} turns through haproxy, {result["duration_s"]} s
  turns sent        {result["turns_sent"]}   (HTTP requests {result["requests"]}, retried turns {result["retried_turns"]}, answered from the store {result["replayed_turns"]})
  answered          {result["answered"]}   (unanswered after retries {result["unanswered"]})
  stored            {check_["stored"]}   (rows {check_["stored_rows"]})
  duplicated        {check_["duplicated"]}   (of retried turns {check_["duplicated_retried"]}, unexplained {check_["duplicated_unexplained"]})
  lost              {check_["lost"]}
  mixed / unreadable / out of order   {check_["mixed"]} / {check_["unreadable"]} / {check_["out_of_order"]}
  cases table       {"present" if check_["cases_table"] else "MISSING"}; rows missing {check_["case_rows_missing"]}, turn counts differing {check_["case_mismatches"]}
  client errors     {result["client_errors"] or "none"}; {result["client_errors_kill_to_ready"]} between the kill and 5 s after the restart
  {kill.get("instance")} killed at {kill.get("killed_at")} s after {kill.get("answered_before")} answers; ready again at {kill.get("ready_at")} s
  served by         {result["served_by"]}; by the restarted instance afterwards: {result["served_by_restarted_instance_after_ready"]}
  throughput        {result["turns_per_second"]} answered turns/s
  result            {"PASS" if check_["ok"] else "FAIL"}""")
    for example in check_["examples"]:
        print(f"    {example}")


def main() -> int:
    settings = LoadSettings.from_env()
    scale = ScaleSettings.from_yaml()
    started_here = not is_up(scale)
    if started_here:
        print("starting the scale-out stack (make scale-up)...", flush=True)
    state = up(scale)
    run = Run(
        settings=settings,
        url=f"{scale.assist_url}/webhooks/assist/webhook",
        token=state["token"],
        prefix=f"lt-{uuid.uuid4().hex[:8]}-",
        utterances=sample_utterances(),
    )
    print(f"driving {settings.cases} cases x {settings.turns} turns (case ids {run.prefix}*)...", flush=True)
    begin = time.monotonic()
    failure: Optional[str] = None
    try:
        asyncio.run(_drive_with_fresh_clock(run, scale))
    except asyncio.TimeoutError:
        failure = f"the run did not finish within {settings.deadline:.0f} s"
    duration = time.monotonic() - begin
    try:
        report = check(state["db_url"], run.prefix, client_cases(run))
        result = summary(run, report, duration)
        results = Path(os.environ.get("LOAD_RESULTS") or RESULTS)  # the test suite writes elsewhere
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
        print_summary(result)
        print(f"  written to {results}")
    finally:
        if started_here and os.environ.get("LOAD_KEEP") != "1":
            down(scale)
    if failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    return 0 if report.ok and result["unanswered"] == 0 else 1


async def _drive_with_fresh_clock(run: Run, scale: ScaleSettings) -> None:
    # asyncio objects belong to the running loop: create them inside it.
    run.progress = asyncio.Event()
    run.started = time.monotonic()
    await drive(run, scale)


if __name__ == "__main__":
    sys.exit(main())
