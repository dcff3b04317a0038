"""The scale-out layout (deescalate/tools/scale.yml) and the state `up` keeps for `down`."""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from deescalate.tools.build import ROOT
from deescalate.tools.stack import LOOPBACK

SETTINGS_FILE = Path(__file__).resolve().with_name("scale.yml")


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
        return cls(
            data_dir=Path(data_dir),
            packages=dict(data["packages"]),
            postgres=dict(data["postgres"]),
            redis=dict(data["redis"]),
            haproxy=dict(data["haproxy"]),
            rasa_ports=[int(p) for p in data["rasa_ports"]],
            action_ports=[int(p) for p in data["action_ports"]],
        )

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
