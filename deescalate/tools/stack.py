"""Starts and stops the servers: the action server and the Rasa server.

    python -m deescalate.tools.stack run     # what `make run` calls: start, print URLs, Ctrl-C stops

The tests use the same `Stack` on free ports with a temporary SQLite file.
Configuration comes from the environment with local defaults, so the same
code serves a laptop (SQLite) and a deployment (PostgreSQL, Redis).
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from deescalate.db.migrate import upgrade
from deescalate.tools.build import ROOT, ensure_model
from deescalate.tools.serving import ServingError, serving_model

ENV_FILE = ROOT / ".env"
READY_TIMEOUT_SECONDS = 240

LOOPBACK = "127.0.0.1"  # every server the tooling starts listens here only


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def read_env_file(path: Path = ENV_FILE) -> Dict[str, str]:
    values = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def api_token() -> str:
    """ASSIST_API_TOKEN from the environment, else from .env, else a new one kept in .env."""
    token = os.environ.get("ASSIST_API_TOKEN") or read_env_file().get("ASSIST_API_TOKEN")
    if not token:
        token = secrets.token_urlsafe(24)
        with ENV_FILE.open("a", encoding="utf-8") as handle:
            handle.write(f"ASSIST_API_TOKEN={token}\n")
        ENV_FILE.chmod(0o600)
    return token


class RasaServers:
    """The URLs of a Rasa server and its action server on loopback ports."""

    rasa_port: int
    action_port: int

    @property
    def rasa_url(self) -> str:
        return f"http://{LOOPBACK}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{LOOPBACK}:{self.action_port}"


@dataclass
class Stack(RasaServers):
    rasa_port: int = 5005
    action_port: int = 5055
    web_port: int = 8000  # the web server; its pages embed the chat widget
    db_url: str = f"sqlite:///{ROOT / 'var' / 'tracker.db'}"
    token: str = ""
    log_dir: Path = ROOT / "var" / "log"
    extra_env: Dict[str, str] = field(default_factory=dict)
    processes: List[subprocess.Popen] = field(default_factory=list)
    model: Optional[Path] = None

    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        env["RASA_TELEMETRY_ENABLED"] = "false"  # no usage data leaves the site
        env.update(
            {
                "ASSIST_API_TOKEN": self.token,
                "ACTION_ENDPOINT_URL": f"{self.action_url}/webhook",
                "DATABASE_URL": self.db_url,
                "DATABASE_DIALECT": self.db_url.split(":", 1)[0].split("+", 1)[0],
                "PYTHONPATH": str(ROOT),
                **self.extra_env,
            }
        )
        env.update(lock_store_env(env))
        return env

    def _spawn(self, name: str, args: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env={**self.env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start_actions(self) -> subprocess.Popen:
        return self._spawn("actions", ["rasa_sdk", "--actions", "actions", "--port", str(self.action_port)])

    def start_rasa(self) -> subprocess.Popen:
        if self.db_url.startswith("sqlite:///"):
            Path(self.db_url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        return self._spawn(
            "rasa",
            [
                "rasa",
                "run",
                "--model",
                str(self.model),
                "--enable-api",
                "--auth-token",
                self.token,
                "--port",
                str(self.rasa_port),
                "--interface",
                LOOPBACK,
                "--credentials",
                "credentials.yml",
                "--endpoints",
                "endpoints.yml",
                "--cors",
                *self.widget_origins(),
            ],
        )

    def widget_origins(self) -> List[str]:
        """Pages allowed to open the chat widget's Socket.IO connection to Rasa:
        the web server's own (demo page) plus WIDGET_ORIGINS, space-separated
        (the bank website's origin in a deployment)."""
        extra = self.env().get("WIDGET_ORIGINS", "").split()
        return [f"http://{LOOPBACK}:{self.web_port}", f"http://localhost:{self.web_port}", *extra]

    def start(self) -> "Stack":
        self.token = self.token or api_token()
        self.model = self.model or ensure_model()
        upgrade(self.db_url)  # the product's tables, before any server uses them
        self.start_actions()
        self.start_rasa()
        self.wait_ready()
        self.start_web()
        return self

    @property
    def web_url(self) -> str:
        return f"http://{LOOPBACK}:{self.web_port}"

    def start_web(self) -> subprocess.Popen:
        """The web server (agent console, widget, review), once Rasa answers; waits for /login."""
        from deescalate.web.auth import web_secret

        process = self._spawn(
            "web",
            ["deescalate.web.app"],
            {
                "RASA_URL": self.rasa_url,
                "WEB_PORT": str(self.web_port),
                "WEB_SECRET": self.extra_env.get("WEB_SECRET") or web_secret(),
            },
        )
        wait_for(f"{self.web_url}/login", READY_TIMEOUT_SECONDS, self.processes, self.log_dir)
        return process

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        for url in (f"{self.action_url}/health", f"{self.rasa_url}/webhooks/assist/"):
            wait_for(url, timeout, self.processes, self.log_dir)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()


def lock_store_env(env: Dict[str, str]) -> Dict[str, str]:
    """The lock_store variables of endpoints.yml: in-memory by default, Redis
    when REDIS_URL (redis://[:password@]host:port/db) is set, so that several
    Rasa instances process each conversation one turn at a time (Rasa's Redis
    lock store with waiting turns that keep their place, deescalate/lock_store.py)."""
    url = env.get("REDIS_URL", "")
    if not url:
        return {
            "LOCK_STORE_TYPE": "in_memory",
            "LOCK_STORE_HOST": "",
            "LOCK_STORE_PORT": "0",
            "LOCK_STORE_DB": "0",
            "LOCK_STORE_PASSWORD": "",
        }
    parts = urllib.parse.urlsplit(url)
    return {
        "LOCK_STORE_TYPE": "deescalate.lock_store.RenewingRedisLockStore",
        "LOCK_STORE_HOST": parts.hostname or LOOPBACK,
        "LOCK_STORE_PORT": str(parts.port or 6379),
        "LOCK_STORE_DB": parts.path.strip("/") or "1",
        "LOCK_STORE_PASSWORD": urllib.parse.unquote(parts.password or ""),
    }


def wait_for(url: str, timeout: float, processes: List[subprocess.Popen], log_dir: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p for p in processes if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a server exited with code {dead[0].returncode}; see {log_dir}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s; see {log_dir}")


def run() -> int:
    stack = Stack(
        rasa_port=int(os.environ.get("RASA_PORT", 5005)), action_port=int(os.environ.get("ACTION_PORT", 5055))
    )
    stack.web_port = int(os.environ.get("WEB_PORT", stack.web_port))
    if os.environ.get("DATABASE_URL"):
        stack.db_url = os.environ["DATABASE_URL"]
    try:  # the model `make retrain` promoted; without one, the model of the current data
        stack.model = serving_model()
    except ServingError as error:
        print(f"start-up failed: {error}", file=sys.stderr)
        return 1
    print("starting the action server and Rasa (about half a minute)...", flush=True)
    try:
        stack.start()
    except (RuntimeError, TimeoutError) as error:
        print(f"start-up failed: {error}", file=sys.stderr)
        stack.stop()
        return 1
    from deescalate.web.auth import ensure_admin

    admin, password = ensure_admin(stack.db_url)
    print(
        f"""
  Agent console   {stack.web_url}/console
  Web login       {admin} / {password or "(password as set before)"}
  Assist API      POST {stack.rasa_url}/webhooks/assist/webhook
  Rasa HTTP API   {stack.rasa_url}/model/parse?token=…   (same token; read routes only)
  Action server   {stack.action_url}/health
  Model           {stack.model}
  Tracker store   {stack.db_url}
  API token       {stack.token}   (kept in .env)
  Logs            {stack.log_dir}

Try:
  curl -s -H "Authorization: Bearer {stack.token}" -H 'Content-Type: application/json' \\
    -d '{{"sender": "case-1", "message": "我在柜台买的明明是理财，怎么变成保险了？"}}' \\
    {stack.rasa_url}/webhooks/assist/webhook

Ctrl-C stops everything.""",
        flush=True,
    )
    stopping = {"now": False}

    def request_stop(*_: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        while not stopping["now"]:
            if any(p.poll() is not None for p in stack.processes):
                print(f"a server stopped unexpectedly; see {stack.log_dir}", file=sys.stderr)
                break
            time.sleep(0.5)
    finally:
        print("stopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["run"]:
        sys.exit(run())
    print(__doc__)
    sys.exit(2)
