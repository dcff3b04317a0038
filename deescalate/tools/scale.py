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
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from deescalate.tools.build import ROOT, ensure_model
from deescalate.tools.stack import READY_TIMEOUT_SECONDS, Stack, api_token, wait_for

SETTINGS_FILE = Path(__file__).resolve().with_name("scale.yml")
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ScaleSettings:
    data_dir: Path
    packages: Dict[str, str]
    postgres: Dict[str, Any]
    redis: Dict[str, Any]
    haproxy: Dict[str, Any]
    rasa_ports: List[int]
    action_ports: List[int]

    @classmethod
    def from_yaml(cls, path: Path = SETTINGS_FILE, env: Optional[Mapping[str, str]] = None) -> "ScaleSettings":
        """The settings file; SCALE_DATA_DIR (environment) moves data_dir, as the test suite does."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        data_dir = (os.environ if env is None else env).get("SCALE_DATA_DIR") or ROOT / data["data_dir"]
        return cls(data_dir=Path(data_dir), packages=dict(data["packages"]),
                   postgres=dict(data["postgres"]), redis=dict(data["redis"]),
                   haproxy=dict(data["haproxy"]), rasa_ports=[int(p) for p in data["rasa_ports"]],
                   action_ports=[int(p) for p in data["action_ports"]])

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.json"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    @property
    def assist_url(self) -> str:
        return f"http://{LOOPBACK}:{self.haproxy['assist_port']}"


# ---------------------------------------------------------------- state

def load_state(settings: ScaleSettings) -> Dict[str, Any]:
    if settings.state_file.exists():
        return json.loads(settings.state_file.read_text(encoding="utf-8"))
    return {}


def save_state(settings: ScaleSettings, state: Dict[str, Any]) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.state_file.write_text(json.dumps(state, indent=2), encoding="utf-8")
    settings.state_file.chmod(0o600)  # holds the database password


def pid_alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


# ---------------------------------------------------------------- packages

def _sudo() -> List[str]:
    return [] if os.geteuid() == 0 else ["sudo"]


def pg_program(name: str) -> Optional[str]:
    """A PostgreSQL server program: Debian keeps them in /usr/lib/postgresql/<v>/bin."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return found[-1] if found else shutil.which(name)


def pg_binary(name: str) -> str:
    """pg_program, or a clear error when PostgreSQL's server programs are missing."""
    program = pg_program(name)
    if program is None:
        raise FileNotFoundError(f"{name}: PostgreSQL's server programs are missing (make scale-up installs them)")
    return program


def missing_packages(settings: ScaleSettings) -> List[str]:
    missing = []
    for program, package in settings.packages.items():
        found = pg_program(program) if program == "postgres" else shutil.which(program)
        if not found:
            missing.append(package)
    return missing


def ensure_packages(settings: ScaleSettings) -> None:
    """apt-get install -y the Debian packages of missing programs (apt-get update once first)."""
    missing = missing_packages(settings)
    if not missing:
        return
    print(f"installing Debian packages: apt-get install -y {' '.join(missing)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*_sudo(), "apt-get", "update"], check=True, env=env)
    subprocess.run([*_sudo(), "apt-get", "install", "-y", "--no-install-recommends", *missing],
                   check=True, env=env)
    # Debian's packages start their own system-wide services on default ports;
    # this layout runs private instances, so those are left alone but unused.


# ---------------------------------------------------------------- PostgreSQL

def _as_db_owner(settings: ScaleSettings, command: List[str]) -> List[str]:
    """PostgreSQL refuses to run as root: run its programs as the configured OS user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", settings.postgres["os_user"], "--", *command]
    return command


def _owned_dir(settings: ScaleSettings, path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if os.geteuid() == 0:
        shutil.chown(path, user=settings.postgres["os_user"], group=None)
    return path


def _pg_dirs(settings: ScaleSettings) -> Dict[str, Path]:
    return {"data": settings.data_dir / "pg" / "data", "socket": settings.data_dir / "pg" / "run",
            "log": settings.data_dir / "pg" / "log"}


def _psql(settings: ScaleSettings, sql: str, database: str = "postgres") -> str:
    dirs = _pg_dirs(settings)
    command = _as_db_owner(settings, [
        pg_program("psql") or "psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
        "-h", str(dirs["socket"]), "-p", str(settings.postgres["port"]), "-U", "postgres",
        "-d", database, "-c", sql])
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def start_postgres(settings: ScaleSettings, state: Dict[str, Any]) -> str:
    """Initialise (once) and start the cluster; returns the product's DATABASE_URL."""
    pg = settings.postgres
    dirs = _pg_dirs(settings)
    settings.data_dir.joinpath("pg").mkdir(parents=True, exist_ok=True)
    for name in ("data", "socket", "log"):
        _owned_dir(settings, dirs[name])
    if not (dirs["data"] / "PG_VERSION").exists():
        # Unix socket: trust, but the socket's folder is open to the owner only.
        subprocess.run(_as_db_owner(settings, [
            pg_binary("initdb"), "-D", str(dirs["data"]), "-U", "postgres", "-E", "UTF8",
            "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256"]),
            check=True, stdout=subprocess.DEVNULL)
    status = subprocess.run(_as_db_owner(settings, [pg_binary("pg_ctl"), "status", "-D", str(dirs["data"])]),
                            capture_output=True)
    if status.returncode != 0:
        options = (f"-c listen_addresses={LOOPBACK} -p {pg['port']} "
                   f"-c unix_socket_directories={dirs['socket']} -c max_connections={pg['max_connections']}")
        subprocess.run(_as_db_owner(settings, [
            pg_binary("pg_ctl"), "start", "-w", "-D", str(dirs["data"]), "-l",
            str(dirs["log"] / "postgres.log"), "-o", options]), check=True, stdout=subprocess.DEVNULL)
    password = state.get("db_password") or secrets.token_urlsafe(18)
    state["db_password"] = password
    user, database = pg["user"], pg["database"]
    verb = "ALTER" if _psql(settings, f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'") else "CREATE"
    _psql(settings, f"{verb} ROLE {user} LOGIN PASSWORD '{password}'")
    if not _psql(settings, f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
        _psql(settings, f"CREATE DATABASE {database} OWNER {user}")
    return f"postgresql://{user}:{password}@{LOOPBACK}:{pg['port']}/{database}"


def stop_postgres(settings: ScaleSettings) -> None:
    data = _pg_dirs(settings)["data"]
    if (data / "postmaster.pid").exists():
        subprocess.run(_as_db_owner(settings, [pg_binary("pg_ctl"), "stop", "-D", str(data), "-m", "fast"]),
                       check=False, stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- Redis

def start_redis(settings: ScaleSettings) -> str:
    """A private Redis for the lock store (no persistence: locks live seconds); returns REDIS_URL."""
    folder = settings.data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    pidfile = folder / "redis.pid"
    port = settings.redis["port"]
    if not (pidfile.exists() and pid_alive(int(pidfile.read_text().strip() or 0))):
        subprocess.run(["redis-server", "--bind", LOOPBACK, "--port", str(port), "--daemonize", "yes",
                        "--pidfile", str(pidfile), "--logfile", str(folder / "redis.log"),
                        "--dir", str(folder), "--save", "", "--appendonly", "no"], check=True)
    url = f"redis://{LOOPBACK}:{port}/{settings.redis['db']}"
    import redis
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            return url
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop_pidfile(pidfile: Path) -> None:
    if pidfile.exists():
        text = pidfile.read_text().strip()
        if text and pid_alive(int(text)):
            os.kill(int(text), signal.SIGTERM)


# ---------------------------------------------------------------- haproxy

def haproxy_config(settings: ScaleSettings) -> str:
    """Round robin over the Rasa instances and over the action servers, with
    HTTP health checks; a connection refused by a dead instance is retried
    on another one before the client sees an error.

    Each instance takes at most `server_maxconn` turns at once and haproxy
    queues the rest: a Rasa process works one turn at a time on its event
    loop, so piling every client on it only delays its health check answer
    until haproxy marks a busy, healthy instance down and answers 503."""
    hp = settings.haproxy
    check = f"check inter {hp['check_interval_ms']} fall 3 rise 2"
    limit = f"maxconn {hp['server_maxconn']}"
    rasa = "\n".join(f"    server rasa{i} {LOOPBACK}:{port} {check} {limit}"
                     for i, port in enumerate(settings.rasa_ports, 1))
    sticky = "\n".join(f"    server rasa{i} {LOOPBACK}:{port} {check}"
                       for i, port in enumerate(settings.rasa_ports, 1))
    actions = "\n".join(f"    server actions{i} {LOOPBACK}:{port} {check} {limit}"
                        for i, port in enumerate(settings.action_ports, 1))
    return f"""# Written by `python -m deescalate.tools.scale up` from deescalate/tools/scale.yml.
global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client {hp['timeout_server_s']}s
    timeout server {hp['timeout_server_s']}s
    timeout queue {hp['queue_timeout_s']}s
    timeout check {hp['check_timeout_s']}s
    timeout http-keep-alive 10s
    retries 2
    option redispatch

frontend assist
    bind {LOOPBACK}:{hp['assist_port']}
    # Socket.IO (the chat widget) keeps its session in one Rasa process.
    use_backend rasa_sticky if {{ path_beg /socket.io }}
    default_backend rasa

backend rasa
    balance roundrobin
    option httpchk GET /webhooks/assist/
    http-check expect status 200
    http-response set-header X-Served-By %s
{rasa}

backend rasa_sticky
    balance source
    option httpchk GET /webhooks/assist/
    http-check expect status 200
{sticky}

frontend actions
    bind {LOOPBACK}:{hp['actions_port']}
    default_backend actions

backend actions
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
{actions}
"""


def start_haproxy(settings: ScaleSettings) -> None:
    folder = settings.data_dir / "haproxy"
    folder.mkdir(parents=True, exist_ok=True)
    config, pidfile = folder / "haproxy.cfg", folder / "haproxy.pid"
    config.write_text(haproxy_config(settings), encoding="utf-8")
    subprocess.run(["haproxy", "-c", "-q", "-f", str(config)], check=True)
    stop_pidfile(pidfile)  # a config change takes a fresh process
    time.sleep(0.2)
    subprocess.run(["haproxy", "-D", "-f", str(config), "-p", str(pidfile)], check=True)


# ---------------------------------------------------------------- Rasa and action servers

def _stack(settings: ScaleSettings, state: Dict[str, Any], name: str, **ports: int) -> Stack:
    stack = Stack(db_url=state["db_url"], token=state["token"], log_dir=settings.log_dir / name,
                  model=Path(state["model"]), extra_env={"REDIS_URL": state["redis_url"]})
    for port_name, port in ports.items():     # rasa_port, action_port
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
    stack = _stack(settings, state, name, rasa_port=settings.rasa_ports[index - 1],
                   action_port=settings.haproxy["actions_port"])
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
    starting = [start_rasa_instance(settings, state, index)
                for index in range(1, len(settings.rasa_ports) + 1)
                if not pid_alive(pids.get(f"rasa{index}"))]
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
    result["postgres"] = (_pg_dirs(settings)["data"] / "postmaster.pid").exists()
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
        print(f"""
  Assist API      POST {settings.assist_url}/webhooks/assist/webhook   (haproxy, round robin)
  Rasa instances  {', '.join(f'{LOOPBACK}:{p}' for p in settings.rasa_ports)}
  Action servers  {', '.join(f'{LOOPBACK}:{p}' for p in settings.action_ports)} (via haproxy :{settings.haproxy['actions_port']})
  Tracker store   postgresql://{settings.postgres['user']}:…@{LOOPBACK}:{settings.postgres['port']}/{settings.postgres['database']}
  Lock store      {state['redis_url']}
  API token       {state['token']}   (kept in .env)
  Logs            {settings.log_dir}, {settings.data_dir}/pg/log

`make test-scale` runs the load test; `make scale-down` stops everything.""", flush=True)
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
