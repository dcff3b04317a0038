"""Scale-out on one machine: PostgreSQL, Redis, several Rasa instances and
action servers behind haproxy, all on 127.0.0.1.

    python -m deescalate.tools.scale up              # what `make scale-up` calls
    python -m deescalate.tools.scale down            # `make scale-down`
    python -m deescalate.tools.scale status

The layout (ports, counts, folders) is in deescalate/tools/scale.yml. PostgreSQL
holds the tracker store and the case records, Redis is Rasa's lock store,
haproxy spreads the assist API over the Rasa instances (round robin, health
checks on /webhooks/assist/) and the action calls over the action servers.
Missing programs are installed from Debian's packages. The servers keep
running after `up` returns; what `down` needs (pids, ports, the database
password) is kept in <data_dir>/state.json, readable by this user only.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from deescalate.tools.build import ensure_model
from deescalate.tools.scale_services import (
    ensure_packages,
    pg_dirs,
    start_haproxy,
    start_postgres,
    start_redis,
    stop_pidfile,
    stop_postgres,
)
from deescalate.tools.scale_settings import ScaleSettings, load_state, pid_alive, save_state
from deescalate.tools.stack import LOOPBACK, READY_TIMEOUT_SECONDS, Stack, api_token, wait_for

# ---------------------------------------------------------------- Rasa and action servers


def _stack(settings: ScaleSettings, state: Dict[str, Any], name: str, **ports: int) -> Stack:
    stack = Stack(
        db_url=state["db_url"],
        token=state["token"],
        log_dir=settings.log_dir / name,
        model=Path(state["model"]),
        extra_env={"REDIS_URL": state["redis_url"]},
    )
    for port_name, port in ports.items():  # rasa_port, action_port
        setattr(stack, port_name, port)
    return stack


def start_action_server(settings: ScaleSettings, state: Dict[str, Any], index: int) -> int:
    name = f"actions{index}"
    stack = _stack(settings, state, name, action_port=settings.action_ports[index - 1])
    process = stack.start_actions()
    state.setdefault("pids", {})[name] = process.pid
    return process.pid


def start_rasa_instance(settings: ScaleSettings, state: Dict[str, Any], index: int) -> Stack:
    """Start Rasa instance `index` (1-based); its action calls go through haproxy."""
    name = f"rasa{index}"
    stack = _stack(
        settings, state, name, rasa_port=settings.rasa_ports[index - 1], action_port=settings.haproxy["actions_port"]
    )
    process = stack.start_rasa()
    state.setdefault("pids", {})[name] = process.pid
    return stack


def wait_rasa(stack: Stack, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    wait_for(f"{stack.rasa_url}/webhooks/assist/", timeout, stack.processes, stack.log_dir)


def kill_instance(state: Dict[str, Any], name: str, sig: int = signal.SIGTERM) -> None:
    pid = state.get("pids", {}).get(name)
    if pid_alive(pid):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- up, down, status


def is_up(settings: ScaleSettings) -> bool:
    state = load_state(settings)
    pids = state.get("pids", {})
    expected = len(settings.rasa_ports) + len(settings.action_ports)
    return len(pids) == expected and all(pid_alive(pid) for pid in pids.values())


def up(settings: Optional[ScaleSettings] = None) -> Dict[str, Any]:
    """Start whatever is not running yet; returns the state (urls, pids)."""
    settings = settings or ScaleSettings.from_yaml()
    ensure_packages(settings)
    state = load_state(settings)
    state["token"] = api_token()
    state["model"] = str(ensure_model())
    state["db_url"] = start_postgres(settings, state)
    state["redis_url"] = start_redis(settings)
    state["assist_url"] = settings.assist_url
    save_state(settings, state)
    from deescalate.db.migrate import upgrade

    upgrade(state["db_url"])
    pids = state.setdefault("pids", {})
    for index in range(1, len(settings.action_ports) + 1):
        if not pid_alive(pids.get(f"actions{index}")):
            start_action_server(settings, state, index)
    starting = [
        start_rasa_instance(settings, state, index)
        for index in range(1, len(settings.rasa_ports) + 1)
        if not pid_alive(pids.get(f"rasa{index}"))
    ]
    save_state(settings, state)
    start_haproxy(settings)
    for port in settings.action_ports:
        wait_for(f"http://{LOOPBACK}:{port}/health", READY_TIMEOUT_SECONDS, [], settings.log_dir)
    for stack in starting:
        wait_rasa(stack)
    wait_for(f"{settings.assist_url}/webhooks/assist/", 60, [], settings.log_dir)
    return state


def down(settings: Optional[ScaleSettings] = None) -> None:
    settings = settings or ScaleSettings.from_yaml()
    state = load_state(settings)
    stop_pidfile(settings.data_dir / "haproxy" / "haproxy.pid")
    names = list(state.get("pids", {}))
    for name in names:
        kill_instance(state, name)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(pid_alive(state["pids"][n]) for n in names):
        time.sleep(0.2)
    for name in names:
        kill_instance(state, name, signal.SIGKILL)
    stop_pidfile(settings.data_dir / "redis" / "redis.pid")
    stop_postgres(settings)
    state["pids"] = {}
    if state:
        save_state(settings, state)


def status(settings: Optional[ScaleSettings] = None) -> Dict[str, bool]:
    settings = settings or ScaleSettings.from_yaml()
    state = load_state(settings)
    result = {name: pid_alive(pid) for name, pid in state.get("pids", {}).items()}
    for name in ("haproxy", "redis"):
        pidfile = settings.data_dir / name / f"{name}.pid"
        result[name] = pidfile.exists() and pid_alive(int(pidfile.read_text().strip() or 0))
    result["postgres"] = (pg_dirs(settings)["data"] / "postmaster.pid").exists()
    return result


def main(argv: List[str]) -> int:
    settings = ScaleSettings.from_yaml()
    command = argv[0] if argv else ""
    if command == "up":
        print("starting PostgreSQL, Redis, the action servers, Rasa instances and haproxy...", flush=True)
        try:
            state = up(settings)
        except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as error:
            print(f"scale-up failed: {error}; `make scale-down` stops what started", file=sys.stderr)
            return 1
        print(
            f"""
  Assist API      POST {settings.assist_url}/webhooks/assist/webhook   (haproxy, round robin)
  Rasa instances  {", ".join(f"{LOOPBACK}:{p}" for p in settings.rasa_ports)}
  Action servers  {", ".join(f"{LOOPBACK}:{p}" for p in settings.action_ports)} (via haproxy :{settings.haproxy["actions_port"]})
  Tracker store   postgresql://{settings.postgres["user"]}:…@{LOOPBACK}:{settings.postgres["port"]}/{settings.postgres["database"]}
  Lock store      {state["redis_url"]}
  API token       {state["token"]}   (kept in .env)
  Logs            {settings.log_dir}, {settings.data_dir}/pg/log

`make test-scale` runs the load test; `make scale-down` stops everything.""",
            flush=True,
        )
        return 0
    if command == "down":
        down(settings)
        print("scale-out stack stopped", flush=True)
        return 0
    if command == "status":
        for name, alive in status(settings).items():
            print(f"{name:10} {'running' if alive else 'stopped'}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
