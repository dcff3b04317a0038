"""Latency, throughput, training time and memory on one machine.

    python -m deescalate.tools.bench        # what `make bench` calls

In one run, on 127.0.0.1 only, it starts the real stack (deescalate/tools/stack.py:
action server, Rasa, web server; a temporary SQLite tracker store) and two
floor bots (deescalate/tools/bench/floor/: Rasa on the same SQL tracker store type and
in-memory lock store, one answering with a plain `utter_` response, one
running a trivial custom action on its own action server), and measures:

1. the assist API round trip, one request at a time, in continuing cases;
2. the same utterances on three floors: /model/parse on our model, a REST
   turn answered by a response, a REST turn running the trivial action;
3. /model/parse throughput with concurrent clients;
4. latency growth over one long case (assist API and the floors);
5. throughput with concurrent cases;
6. `rasa train` of our model from scratch (BENCH_SKIP_TRAIN=1 skips it);
7. resident memory of each server.

Counts and targets are in deescalate/tools/bench/bench.yml (BENCH_QUICK=1 for small
counts). Prints a table and writes results/bench.json. Exit code 0 when
everything was measured (missed targets are reported, not errors), 1 when
something could not be measured, 130 when interrupted. Every loop is
bounded, the run has an overall deadline, and every server it started is
stopped on the way out, also on error or Ctrl-C.
"""

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import aiohttp

from deescalate.tools.bench.drive import (
    Endpoint,
    concurrent_cases,
    growth,
    parse_throughput,
    single_stream,
    tracker_sizes,
    warm_up,
)
from deescalate.tools.bench.measures import growth_summary, measure_taboo_check, measure_train, window_labels
from deescalate.tools.bench.processes import FloorBot, tree_memory_mib
from deescalate.tools.bench.report import table
from deescalate.tools.bench.settings import (
    RESULTS,
    UTTERANCE_DIR,
    BenchError,
    Deadline,
    evaluate_targets,
    load_settings,
    load_utterances,
    summarize,
    target_figures,
)
from deescalate.tools.build import ROOT
from deescalate.tools.stack import LOOPBACK, Stack, free_port

# ---------------------------------------------------------------- the run


@dataclass
class Servers:
    """Everything the bench started, so that `stop` can end it whatever happened."""

    workdir: Path
    token: str = field(default_factory=lambda: "bench-" + uuid.uuid4().hex)
    stack: Optional[Stack] = None
    floors: Dict[str, FloorBot] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop every server; one that will not stop does not keep the others running."""
        stoppers = [floor.stop for floor in self.floors.values()]
        if self.stack is not None:
            stoppers.append(self.stack.stop)
        errors = []
        for stop in stoppers:
            try:
                stop()
            except (OSError, subprocess.SubprocessError) as error:
                errors.append(error)
        if errors:
            raise BenchError(f"could not stop every server: {errors[0]}")

    @property
    def started(self) -> Stack:
        if self.stack is None:
            raise BenchError("the servers are not started")
        return self.stack

    def endpoints(self) -> Dict[str, Endpoint]:
        auth = {"Authorization": f"Bearer {self.token}"}
        rasa = self.started.rasa_url
        return {
            "assist": Endpoint("assist", f"{rasa}/webhooks/assist/webhook", "assist", auth),
            "floor_parse": Endpoint("floor_parse", f"{rasa}/model/parse?token={self.token}", "parse"),
            "floor_utter": Endpoint("floor_utter", f"{self.floors['utter'].rasa_url}/webhooks/rest/webhook", "rest"),
            "floor_action": Endpoint("floor_action", f"{self.floors['action'].rasa_url}/webhooks/rest/webhook", "rest"),
        }

    def tracker_urls(self) -> Dict[str, str]:
        """Rasa's tracker endpoint of each server, with a `{}` for the case id."""
        return {
            "assist": f"{self.started.rasa_url}/conversations/{{}}/tracker?token={self.token}",
            **{f"floor_{kind}": f"{floor.rasa_url}/conversations/{{}}/tracker" for kind, floor in self.floors.items()},
        }

    def memory(self) -> Dict[str, Any]:
        """RSS of our servers (process trees) and, apart, of the floor bots."""
        names = {"rasa_sdk": "action_server", "rasa": "rasa", "deescalate.web.app": "web_server"}
        ours = {
            names.get(str(p.args[2]), str(p.args[2])): tree_memory_mib(p.pid)  # type: ignore[index]
            for p in self.started.processes
        }
        floors = {
            f"floor_{kind}_{name}": tree_memory_mib(p.pid)
            for kind, floor in self.floors.items()
            for name, p in floor.processes.items()
        }
        return {"servers": ours, "total_mib": round(sum(m["rss_mib"] for m in ours.values()), 1), "floors": floors}


def start_servers(servers: Servers, settings: Dict[str, Any]) -> Dict[str, float]:
    """Train the floor bots if needed, then start the floors and the real stack side by side."""
    timings = {}
    for kind in ("utter", "action"):
        floor = servers.floors[kind] = FloorBot(kind, servers.workdir)
        timings[f"floor_{kind}_train_s"] = round(floor.ensure_model(settings["train_timeout_s"])[1], 1)
    began = time.monotonic()
    for floor in servers.floors.values():
        floor.start()
    db_path = servers.workdir / "tracker.db"
    servers.stack = Stack(
        rasa_port=free_port(),
        action_port=free_port(),
        web_port=free_port(),
        db_url=f"sqlite:///{db_path}",
        token=servers.token,
        log_dir=servers.workdir / "log",
        extra_env={
            "WEB_SECRET": uuid.uuid4().hex,
            "SANIC_HOST": LOOPBACK,
            "CORRECTIONS_DIR": str(servers.workdir / "corrections"),
        },
    )
    servers.stack.start()
    for floor in servers.floors.values():
        floor.wait_ready(settings["startup_timeout_s"])
    timings["servers_ready_s"] = round(time.monotonic() - began, 1)
    return timings


@dataclass
class Phases:
    """What every measuring phase needs: the HTTP session, the targets and the deadline."""

    session: aiohttp.ClientSession
    servers: Servers
    endpoints: Dict[str, Endpoint]
    utterances: List[str]
    deadline: float
    prefix: str = field(default_factory=lambda: "bench-" + uuid.uuid4().hex[:6])

    async def bounded(self, coroutine: Any) -> Any:
        """Await `coroutine` within what is left of the overall deadline."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            coroutine.close()
            raise Deadline("the overall deadline passed")
        return await asyncio.wait_for(coroutine, remaining)

    async def single(self, settings: Dict[str, Any]) -> Dict[str, Any]:
        order = list(self.endpoints.values())
        print(f"warming up ({settings['warmup_turns']} turns per target)...", flush=True)
        await self.bounded(warm_up(self.session, order, self.utterances, settings["warmup_turns"], self.prefix))
        single = settings["single_stream"]
        print(f"single stream: {single['turns']} turns per target...", flush=True)
        latencies = await self.bounded(
            single_stream(self.session, order, self.utterances, single["turns"], single["case_turns"], self.prefix)
        )
        return {**single, "targets": {name: summarize(values) for name, values in latencies.items()}}

    async def throughput(self, settings: Dict[str, Any]) -> Dict[str, Any]:
        print(f"parse throughput: {settings['parses']} parses, {settings['clients']} clients...", flush=True)
        return await self.bounded(
            parse_throughput(
                self.session, self.endpoints["floor_parse"], self.utterances, settings["clients"], settings["parses"]
            )
        )

    async def growth(self, settings: Dict[str, Any]) -> Dict[str, Any]:
        print(f"growth: one case of {settings['turns']} turns per target...", flush=True)
        targets = [self.endpoints[name] for name in ("assist", "floor_action", "floor_utter")]
        series = await self.bounded(growth(self.session, targets, self.utterances, settings["turns"], self.prefix))
        trackers = await self.bounded(
            tracker_sizes(self.session, self.servers.tracker_urls(), list(series), f"{self.prefix}-long")
        )
        return {
            **settings,
            "targets": growth_summary(series, settings["window"]),
            "trackers": trackers,
            "series_ms": {name: [round(v, 2) for v in values] for name, values in series.items()},
        }

    async def concurrent(self, settings: Dict[str, Any]) -> Dict[str, Any]:
        print(f"concurrent: {settings['cases']} cases x {settings['turns_per_case']} turns...", flush=True)
        return {
            name: await self.bounded(
                concurrent_cases(
                    self.session,
                    self.endpoints[name],
                    self.utterances,
                    settings["cases"],
                    settings["turns_per_case"],
                    f"{self.prefix}-{name}",
                )
            )
            for name in ("assist", "floor_action")
        }


async def measure_http(
    servers: Servers, settings: Dict[str, Any], utterances: List[str], deadline: float
) -> Dict[str, Any]:
    """Phases 1-5, each bounded by what is left of the overall deadline."""
    timeout = aiohttp.ClientTimeout(total=settings["request_timeout_s"])
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=64)) as session:
        phases = Phases(session, servers, servers.endpoints(), utterances, deadline)
        return {
            "single_stream": await phases.single(settings),
            "parse_throughput": await phases.throughput(settings["parse_throughput"]),
            "growth": await phases.growth(settings["growth"]),
            "concurrent": await phases.concurrent(settings["concurrent"]),
        }


def machine_info() -> Dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "rasa": package_version("rasa"),
        "rasa_sdk": package_version("rasa-sdk"),
        "python": sys.version.split()[0],
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def shuffled(utterances: List[str], seed: int) -> List[str]:
    order = list(utterances)
    random.Random(seed).shuffle(order)
    return order


def run(settings: Dict[str, Any], workdir: Path, deadline: float) -> Dict[str, Any]:
    utterances = shuffled(load_utterances(), settings["seed"])
    if not utterances:
        raise BenchError(f"no utterances in {UTTERANCE_DIR}")
    result: Dict[str, Any] = {"machine": machine_info(), "settings": settings, "utterances": len(utterances)}
    servers = Servers(workdir)
    try:
        print("starting the real stack and the two floor bots...", flush=True)
        result["startup"] = start_servers(servers, settings)
        result["memory_idle"] = servers.memory()
        result.update(asyncio.run(measure_http(servers, settings, utterances, deadline)))
        result["memory"] = servers.memory()
    finally:
        print("stopping the servers...", flush=True)
        with shielded():
            servers.stop()
    result["train"] = measure_train(settings, workdir)
    result["taboo_check"] = measure_taboo_check(settings)
    labels = window_labels(settings["growth"]["turns"], settings["growth"]["window"])
    targets = evaluate_targets(target_figures(result), settings["targets"], labels)
    result["targets"] = [t.as_dict() for t in targets]
    result["machine"]["loadavg_after"] = list(os.getloadavg())
    return result


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ctrl-C, SIGTERM and the deadline alarm wait while the servers are stopped.

    Stopping is bounded (SIGKILL after a grace period); a second Ctrl-C must
    not leave servers behind half-way through it. A signal that came in the
    meantime is acted on afterwards.
    """
    began = time.monotonic()
    alarm_left = signal.alarm(0)
    received: List[int] = []
    previous = {
        number: signal.signal(number, lambda number, _: received.append(number))
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if received:
            raise KeyboardInterrupt
        if alarm_left:
            signal.alarm(max(1, alarm_left - int(time.monotonic() - began)))


def raise_deadline(*_: Any) -> None:
    raise Deadline("the overall deadline passed")


def raise_interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    settings = load_settings(quick=os.environ.get("BENCH_QUICK") == "1")
    deadline = time.monotonic() + settings["deadline_s"]
    # The hard stop: SIGALRM interrupts whatever is running (a server start-up wait, a training run).
    signal.signal(signal.SIGALRM, raise_deadline)
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.alarm(int(settings["deadline_s"]))
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    code, keep_logs = 1, True
    try:
        result = run(settings, workdir, deadline)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
        print("\n" + table(result) + f"\n\nwritten to {RESULTS.relative_to(ROOT)}")
        code, keep_logs = 0, False
    except (BenchError, RuntimeError, TimeoutError, OSError, aiohttp.ClientError, asyncio.TimeoutError) as error:
        print(f"bench could not measure everything: {type(error).__name__}: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("bench interrupted", file=sys.stderr)
        code = 130
    except Exception:  # a bug here, not a measurement: still a clean exit code and the logs
        traceback.print_exc()
    finally:
        signal.alarm(0)
    if keep_logs:
        print(f"server logs kept in {workdir / 'log'}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
