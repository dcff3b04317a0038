"""Processes the bench starts: memory of a process tree, bounded runs, and the floor bots."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from deescalate.tools.bench.settings import FLOOR_BUILD, FLOOR_DIR, BenchError
from deescalate.tools.build import ROOT, input_hash, train_command
from deescalate.tools.stack import LOOPBACK, RasaServers, free_port, wait_for

# ---------------------------------------------------------------- processes and memory


def parent_pids() -> Dict[int, int]:
    """pid -> parent pid of every process, from /proc/<pid>/stat."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def process_tree(pid: int, parents: Dict[int, int]) -> List[int]:
    """`pid` and all its descendants."""
    children: Dict[int, List[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    tree: List[int] = []
    todo = [pid]
    while todo and len(tree) < len(parents) + 1:  # bounded even if /proc changed under us
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def status_kib(pid: int, key: str) -> int:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM); 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory_mib(pid: int) -> Dict[str, float]:
    """VmRSS (and peak VmHWM) of a process and its children, MiB."""
    pids = process_tree(pid, parent_pids())
    return {
        "rss_mib": round(sum(status_kib(p, "VmRSS") for p in pids) / 1024, 1),
        "hwm_mib": round(sum(status_kib(p, "VmHWM") for p in pids) / 1024, 1),
        "processes": len(pids),
    }


def stop_group(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the process group a server was started in, SIGKILL it after `grace` seconds."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=grace)


def run_bounded(
    command: List[str], timeout: float, log: Path, cwd: Path = ROOT, env: Optional[Dict[str, str]] = None
) -> float:
    """Run a command in its own process group, output to `log`; seconds taken.

    The group is killed on time-out and on any exception (Ctrl-C, deadline),
    so no `rasa train` outlives the bench.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=env or base_env(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=timeout)
        except BaseException:
            stop_group(process, grace=5.0)
            raise
    if code != 0:
        raise BenchError(f"{' '.join(command[2:5])}… exited with {code}; see {log}")
    return time.monotonic() - began


def base_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "RASA_TELEMETRY_ENABLED": "false",
            "PYTHONPATH": str(ROOT),
            "SANIC_HOST": LOOPBACK,
        }
    )  # rasa_sdk listens on SANIC_HOST (0.0.0.0 otherwise)
    return env


# ---------------------------------------------------------------- floor bots


@dataclass
class FloorBot(RasaServers):
    """One floor bot of deescalate/tools/bench/floor/: `utter` (a response) or `action` (a trivial custom action)."""

    kind: str
    workdir: Path
    rasa_port: int = field(default_factory=free_port)
    action_port: int = field(default_factory=free_port)
    model: Optional[Path] = None
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def inputs(self) -> List[str]:
        return [
            f"deescalate/tools/bench/floor/{name}"
            for name in ("config.yml", "nlu.yml", f"{self.kind}/domain.yml", f"{self.kind}/rules.yml")
        ]

    def model_name(self) -> str:
        """Named by a hash of the bot's files and Rasa's version: a re-run reuses the model."""
        digest = hashlib.sha256(f"{input_hash(self.inputs)} rasa {package_version('rasa')}".encode())
        return f"floor-{self.kind}-{digest.hexdigest()[:12]}"

    def ensure_model(self, timeout: float) -> Tuple[Path, float]:
        """The trained model (trained now unless cached in build/bench/) and seconds spent training."""
        name = self.model_name()
        self.model = FLOOR_BUILD / f"{name}.tar.gz"
        if self.model.exists():
            return self.model, 0.0
        print(f"  training floor bot '{self.kind}' into {self.model.relative_to(ROOT)}...", flush=True)
        env = {**base_env(), "RASA_CACHE_DIRECTORY": str(FLOOR_BUILD / "rasa-cache")}
        config, nlu, domain, rules = self.inputs
        command = train_command(FLOOR_BUILD, name, config=config, domain=domain, data=[nlu, rules])
        seconds = run_bounded(command, timeout, self.workdir / "log" / f"train-{self.kind}.log", env=env)
        for old in FLOOR_BUILD.glob(f"floor-{self.kind}-*.tar.gz"):
            if old != self.model:
                old.unlink()
        return self.model, seconds

    def env(self) -> Dict[str, str]:
        return {
            **base_env(),
            "ACTION_ENDPOINT_URL": f"{self.action_url}/webhook",
            "FLOOR_DB_PATH": str(self.workdir / f"floor-{self.kind}.db"),
        }

    def _spawn(self, name: str, args: List[str], cwd: Path, env: Dict[str, str]) -> None:
        (self.workdir / "log").mkdir(parents=True, exist_ok=True)
        with (self.workdir / "log" / f"floor-{self.kind}-{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", *args],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_actions(self) -> None:
        # From the floor folder with no PYTHONPATH: `actions` is floor/actions.py, not ours.
        self._spawn(
            "actions",
            ["rasa_sdk", "--actions", "actions", "--port", str(self.action_port)],
            FLOOR_DIR,
            {**self.env(), "PYTHONPATH": ""},
        )

    def start(self) -> None:
        """Spawn the servers without waiting; `wait_ready` waits."""
        if self.kind == "action":
            self.start_actions()
        self._spawn(
            "rasa",
            [
                "rasa",
                "run",
                "--model",
                str(self.model),
                "--enable-api",
                "--port",
                str(self.rasa_port),
                "--interface",
                LOOPBACK,
                "--credentials",
                str(FLOOR_DIR / "credentials.yml"),
                "--endpoints",
                str(FLOOR_DIR / "endpoints.yml"),
            ],
            self.workdir,
            self.env(),
        )

    def wait_ready(self, timeout: float) -> None:
        urls = [f"{self.rasa_url}/webhooks/rest/"]
        if self.kind == "action":
            urls.insert(0, f"{self.action_url}/health")
        for url in urls:
            wait_for(url, timeout, list(self.processes.values()), self.workdir / "log")

    def stop(self) -> None:
        for process in self.processes.values():
            stop_group(process)
        self.processes.clear()


# ---------------------------------------------------------------- HTTP targets
