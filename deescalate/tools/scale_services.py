"""The shared services of the scale-out: Debian packages, PostgreSQL, Redis and haproxy."""

import glob
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from deescalate.tools.scale_settings import ScaleSettings, pid_alive
from deescalate.tools.stack import LOOPBACK

# ---------------------------------------------------------------- packages


def _sudo() -> List[str]:
    return [] if os.geteuid() == 0 else ["sudo"]


def pg_program(name: str) -> Optional[str]:
    """A PostgreSQL server program: Debian keeps them in /usr/lib/postgresql/<v>/bin."""
    found = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
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
    subprocess.run([*_sudo(), "apt-get", "install", "-y", "--no-install-recommends", *missing], check=True, env=env)
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


def pg_dirs(settings: ScaleSettings) -> Dict[str, Path]:
    return {
        "data": settings.data_dir / "pg" / "data",
        "socket": settings.data_dir / "pg" / "run",
        "log": settings.data_dir / "pg" / "log",
    }


def _psql(settings: ScaleSettings, sql: str, database: str = "postgres") -> str:
    dirs = pg_dirs(settings)
    command = _as_db_owner(
        settings,
        [
            pg_program("psql") or "psql",
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(dirs["socket"]),
            "-p",
            str(settings.postgres["port"]),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            sql,
        ],
    )
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def start_postgres(settings: ScaleSettings, state: Dict[str, Any]) -> str:
    """Initialise (once) and start the cluster; returns the product's DATABASE_URL."""
    pg = settings.postgres
    dirs = pg_dirs(settings)
    settings.data_dir.joinpath("pg").mkdir(parents=True, exist_ok=True)
    for name in ("data", "socket", "log"):
        _owned_dir(settings, dirs[name])
    if not (dirs["data"] / "PG_VERSION").exists():
        # Unix socket: trust, but the socket's folder is open to the owner only.
        subprocess.run(
            _as_db_owner(
                settings,
                [
                    pg_binary("initdb"),
                    "-D",
                    str(dirs["data"]),
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                ],
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    status = subprocess.run(
        _as_db_owner(settings, [pg_binary("pg_ctl"), "status", "-D", str(dirs["data"])]), capture_output=True
    )
    if status.returncode != 0:
        options = (
            f"-c listen_addresses={LOOPBACK} -p {pg['port']} "
            f"-c unix_socket_directories={dirs['socket']} -c max_connections={pg['max_connections']}"
        )
        subprocess.run(
            _as_db_owner(
                settings,
                [
                    pg_binary("pg_ctl"),
                    "start",
                    "-w",
                    "-D",
                    str(dirs["data"]),
                    "-l",
                    str(dirs["log"] / "postgres.log"),
                    "-o",
                    options,
                ],
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    password = state.get("db_password") or secrets.token_urlsafe(18)
    state["db_password"] = password
    user, database = pg["user"], pg["database"]
    verb = "ALTER" if _psql(settings, f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'") else "CREATE"
    _psql(settings, f"{verb} ROLE {user} LOGIN PASSWORD '{password}'")
    if not _psql(settings, f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
        _psql(settings, f"CREATE DATABASE {database} OWNER {user}")
    return f"postgresql://{user}:{password}@{LOOPBACK}:{pg['port']}/{database}"


def stop_postgres(settings: ScaleSettings) -> None:
    data = pg_dirs(settings)["data"]
    if (data / "postmaster.pid").exists():
        subprocess.run(
            _as_db_owner(settings, [pg_binary("pg_ctl"), "stop", "-D", str(data), "-m", "fast"]),
            check=False,
            stdout=subprocess.DEVNULL,
        )


# ---------------------------------------------------------------- Redis


def start_redis(settings: ScaleSettings) -> str:
    """A private Redis for the lock store (no persistence: locks live seconds); returns REDIS_URL."""
    folder = settings.data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    pidfile = folder / "redis.pid"
    port = settings.redis["port"]
    if not (pidfile.exists() and pid_alive(int(pidfile.read_text().strip() or 0))):
        subprocess.run(
            [
                "redis-server",
                "--bind",
                LOOPBACK,
                "--port",
                str(port),
                "--daemonize",
                "yes",
                "--pidfile",
                str(pidfile),
                "--logfile",
                str(folder / "redis.log"),
                "--dir",
                str(folder),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
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
    rasa = "\n".join(
        f"    server rasa{i} {LOOPBACK}:{port} {check} {limit}" for i, port in enumerate(settings.rasa_ports, 1)
    )
    sticky = "\n".join(f"    server rasa{i} {LOOPBACK}:{port} {check}" for i, port in enumerate(settings.rasa_ports, 1))
    actions = "\n".join(
        f"    server actions{i} {LOOPBACK}:{port} {check} {limit}" for i, port in enumerate(settings.action_ports, 1)
    )
    return f"""# Written by `python -m deescalate.tools.scale up` from deescalate/tools/scale.yml.
global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client {hp["timeout_server_s"]}s
    timeout server {hp["timeout_server_s"]}s
    timeout queue {hp["queue_timeout_s"]}s
    timeout check {hp["check_timeout_s"]}s
    timeout http-keep-alive 10s
    retries 2
    option redispatch

frontend assist
    bind {LOOPBACK}:{hp["assist_port"]}
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
    bind {LOOPBACK}:{hp["actions_port"]}
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
