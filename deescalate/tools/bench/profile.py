"""Where the time of a turn goes as a case grows: a per-component profile.

    python -m deescalate.tools.bench.profile [TURNS] [WINDOW]     # default 100 10

`make bench` shows that a turn late in a long case is slower than an early
one; this says why. It loads our model and the trivial-action floor bot
(deescalate/tools/bench/floor/) in this process, each with its real endpoints (SQLite
tracker store, in-memory lock store, its own action server started here on
127.0.0.1), drives one case of TURNS turns through each, and times the
parts of every turn by wrapping Rasa's own methods:

  nlu            MessageProcessor.parse_message (the NLU pipeline)
  tracker load   SQLTrackerStore._retrieve (query + json + replaying every event);
                 ours: MaskingSQLTrackerStore.retrieve (new rows + replaying the session)
  tracker save   the store's save, minus the case-record update (ours only)
  case record    MaskingSQLTrackerStore._update_case
  policy         MessageProcessor._predict_next_with_tracker (twice a turn)
  tracker copy   DialogueStateTracker.copy (replays every event; once per action)
  action request RemoteAction._action_call_format (the tracker as JSON-able dicts)
  action http    EndpointConfig.request (send, action server, answer)
  action check   RemoteAction._validate_action_result (jsonschema)

The floor bot runs first, on Rasa as shipped; then the two RemoteAction
methods our tracker store replaces at start-up (deescalate/rasa_seams.py)
are replaced and timed the same way, and our bot runs.

The garbage collector's pauses are shown apart ("gc pauses"); they fall
inside the other parts. It prints, per part, the mean of the first WINDOW turns and of the last
WINDOW turns, and the size of the request posted to the action server; then, for
the tail, each part's median over all turns beside its mean over the slowest tenth.
The HTTP layer in front of Rasa (Sanic, the channel) is not in these
numbers; `make bench` measures the whole round trip.
"""

import asyncio
import functools
import gc
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Tuple

from deescalate.loaded_process import settle_after_load
from deescalate.rasa_seams import install as install_rasa_seams
from deescalate.tools.bench.processes import FloorBot, stop_group
from deescalate.tools.bench.settings import FLOOR_DIR, load_utterances, window_means
from deescalate.tools.build import ROOT, ensure_model
from deescalate.tools.stack import Stack, free_port, lock_store_env, wait_for

TAIL_SHARE = 0.1  # the slowest turns the tail view averages

PARTS = [
    "nlu",
    "tracker load",
    "tracker save",
    "case record",
    "policy",
    "tracker copy",
    "action request",
    "action http",
    "action check",
]


class Recorder:
    """Milliseconds per part for the turn being driven; request sizes per turn."""

    def __init__(self) -> None:
        self.turn: Dict[str, float] = defaultdict(float)
        self.request_bytes = 0

    def add(self, part: str, ms: float) -> None:
        self.turn[part] += ms


RECORDER = Recorder()


def time_garbage_collection() -> None:
    """Add the garbage collector's pauses to the part "gc pauses" (they happen inside the other parts)."""
    started: List[float] = []

    def callback(phase: str, info: Dict[str, Any]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            RECORDER.add("gc pauses", (time.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(callback)


def timed(owner: Any, name: str, part: str) -> None:
    """Replace owner.name by a wrapper adding its run time to `part`."""
    original = getattr(owner, name)
    if asyncio.iscoroutinefunction(original):

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                RECORDER.add(part, (time.perf_counter() - began) * 1000)
    else:

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                RECORDER.add(part, (time.perf_counter() - began) * 1000)

    setattr(owner, name, wrapper)


def instrument() -> None:
    from rasa.core.processor import MessageProcessor
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from deescalate.tracker_store import MaskingSQLTrackerStore

    timed(MessageProcessor, "parse_message", "nlu")
    timed(SQLTrackerStore, "_retrieve", "tracker load")
    timed(MaskingSQLTrackerStore, "retrieve", "tracker load")
    timed(SQLTrackerStore, "save", "tracker save")
    timed(MaskingSQLTrackerStore, "save", "tracker save")
    timed(MaskingSQLTrackerStore, "_update_case", "case record")
    timed(MessageProcessor, "_predict_next_with_tracker", "policy")
    timed(DialogueStateTracker, "copy", "tracker copy")
    timed(EndpointConfig, "request", "action http")
    instrument_remote_action()


def instrument_remote_action() -> None:
    """Time the action request and check, and measure the request's size."""
    from rasa.core.actions.action import RemoteAction

    timed(RemoteAction, "_action_call_format", "action request")
    timed(RemoteAction, "_validate_action_result", "action check")
    original_format = RemoteAction._action_call_format

    @functools.wraps(original_format)  # keeps the source reachable for deescalate/rasa_seams.py's pin check
    def measured_format(self: Any, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        body = original_format(self, *args, **kwargs)
        RECORDER.request_bytes = len(json.dumps(body))  # outside the timed part
        return body

    RemoteAction._action_call_format = measured_format


async def drive(
    model: Path, endpoints_file: Path, env: Dict[str, str], texts: List[str], channel: str, settle: bool = False
) -> List[Dict[str, float]]:
    """One case through an in-process agent; per turn: ms per part, total, request bytes.

    `settle`: after loading, what our Rasa server does before its first turn (deescalate/loaded_process.py)."""
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints

    os.environ.update(env)
    agent = await load_agent(model_path=str(model), endpoints=AvailableEndpoints.read_endpoints(str(endpoints_file)))
    if settle:
        settle_after_load()
    turns = []
    for text in texts:
        RECORDER.turn.clear()
        began = time.perf_counter()
        await agent.handle_message(
            UserMessage(
                text,
                CollectingOutputChannel(),
                f"profile-{channel}",
                input_channel=channel,
                metadata={"channel": "hotline"},
            )
        )
        turn = dict(RECORDER.turn)
        turn["tracker save"] = turn.get("tracker save", 0.0) - turn.get("case record", 0.0)
        turn["total"] = (time.perf_counter() - began) * 1000
        turn["request KiB"] = RECORDER.request_bytes / 1024
        turns.append(turn)
    return turns


def ours(workdir: Path, texts: List[str]) -> List[Dict[str, float]]:
    stack = Stack(action_port=free_port(), db_url=f"sqlite:///{workdir / 'ours.db'}", log_dir=workdir / "log")
    try:
        stack.start_actions()
        wait_for(f"{stack.action_url}/health", 240, stack.processes, stack.log_dir)
        env = {**stack.env(), **lock_store_env({})}
        env = {
            k: env[k]
            for k in (
                "ACTION_ENDPOINT_URL",
                "DATABASE_URL",
                "DATABASE_DIALECT",
                "LOCK_STORE_TYPE",
                "LOCK_STORE_HOST",
                "LOCK_STORE_PORT",
                "LOCK_STORE_DB",
                "LOCK_STORE_PASSWORD",
            )
        }
        return asyncio.run(drive(ensure_model(), ROOT / "endpoints.yml", env, texts, "assist", settle=True))
    finally:
        stack.stop()


def floor(workdir: Path, texts: List[str]) -> List[Dict[str, float]]:
    bot = FloorBot("action", workdir)
    try:
        model, _ = bot.ensure_model(600)
        bot.start_actions()
        wait_for(f"{bot.action_url}/health", 240, list(bot.processes.values()), workdir / "log")
        env = {k: bot.env()[k] for k in ("ACTION_ENDPOINT_URL", "FLOOR_DB_PATH")}
        return asyncio.run(drive(model, FLOOR_DIR / "endpoints.yml", env, texts, "rest"))
    finally:
        for process in bot.processes.values():
            stop_group(process)


def part_rows(turns: List[Dict[str, float]], window: int) -> List[Tuple[str, float, float]]:
    rows = []
    for part in [*PARTS, "total", "gc pauses", "request KiB"]:
        first, last = window_means([t.get(part, 0.0) for t in turns], window)
        if first or last:
            rows.append((part, first, last))
    return rows


def report(name: str, turns: List[Dict[str, float]], window: int) -> None:
    count = len(turns)
    print(f"\n{name}: one case of {count} turns, in process (no HTTP in front of Rasa)")
    print(f"  {'part':16}{f'turns 1–{window}':>14}{f'turns {count - window + 1}–{count}':>16}{'growth':>10}   ms")
    for part, first, last in part_rows(turns, window):
        print(f"  {part:16}{first:14.2f}{last:16.2f}{last - first:+10.2f}")
    # The parts do not nest (the save's case-record update is taken out of "tracker save").
    other = [t["total"] - sum(t.get(p, 0.0) for p in PARTS) for t in turns]
    first, last = window_means(other, window)
    print(f"  {'rest of Rasa':16}{first:14.2f}{last:16.2f}{last - first:+10.2f}")
    tail_report(turns)


def tail_rows(turns: List[Dict[str, float]], share: float = TAIL_SHARE) -> List[Tuple[str, float, float]]:
    """Per part: its median over every turn, and its mean over the slowest `share` of the turns."""
    ranked = sorted(turns, key=lambda t: t["total"])
    slowest = ranked[-max(1, round(len(ranked) * share)) :]
    rows = []
    for part in [*PARTS, "gc pauses", "total"]:
        values = sorted(t.get(part, 0.0) for t in turns)
        median = values[len(values) // 2]
        tail = sum(t.get(part, 0.0) for t in slowest) / len(slowest)
        if median or tail:
            rows.append((part, median, tail))
    return rows


def tail_report(turns: List[Dict[str, float]]) -> None:
    """Where the slowest turns spend what a median turn does not."""
    print(f"  where the slowest {TAIL_SHARE:.0%} of the turns go")
    print(f"  {'part':16}{'median turn':>14}{'slowest turns':>16}{'extra':>10}   ms")
    for part, median, tail in tail_rows(turns):
        print(f"  {part:16}{median:14.2f}{tail:16.2f}{tail - median:+10.2f}")


def configure_logging(log_file: Path) -> None:
    """Logging as `rasa run` sets it (INFO, structlog filtering by level), into a file.

    Unconfigured, structlog would render every debug event of every turn,
    which is not what a server pays.
    """
    import logging

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.INFO, warn_only_once=True, filter_repeated_logs=True)
    configure_structlog(logging.INFO)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    root.addHandler(logging.FileHandler(log_file))


def main(argv: List[str]) -> int:
    count = int(argv[0]) if argv else 100
    window = int(argv[1]) if len(argv) > 1 else 10
    utterances = load_utterances()
    texts = [utterances[(i * 7) % len(utterances)] for i in range(count)]
    instrument()
    time_garbage_collection()
    with tempfile.TemporaryDirectory(prefix="benchprofile-") as tmp:
        workdir = Path(tmp)
        configure_logging(workdir / "log" / "profile.log")
        floor_turns = floor(workdir, texts)  # Rasa as shipped
        if not install_rasa_seams():  # what our tracker store does at start-up
            print("the Rasa seams do not fit this Rasa: ours runs on Rasa's own methods")
        instrument_remote_action()
        results = {"assist (ours)": ours(workdir, texts), "floor c: trivial action": floor_turns}
    for name, turns in results.items():
        report(name, turns, window)
    out = ROOT / "results" / "bench_profile.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {n: [{k: round(v, 3) for k, v in t.items()} for t in turns] for n, turns in results.items()},
            indent=1,
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    print(f"\nper-turn figures in {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
