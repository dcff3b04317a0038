"""The learning settings of actions/learning.yml."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "actions" / "learning.yml"


@dataclass(frozen=True)
class RankingSettings:
    exploration: float
    fit_margin: int
    effect_weight: float
    pick_weight: float
    prior_mean: float
    prior_strength: float
    prior_sd: float
    pick_alpha: float
    pick_beta: float
    window_days: float
    refresh_seconds: float


@dataclass(frozen=True)
class LearningSettings:
    min_uses: int
    confidence: float
    ranking: RankingSettings

    @classmethod
    def from_yaml(cls, path: Optional[Path] = None) -> "LearningSettings":
        """Read the settings; LEARNING_SETTINGS names another file (the tests use it)."""
        path = Path(path or os.environ.get("LEARNING_SETTINGS") or SETTINGS_FILE)
        data: Dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        effect, rank = data["effectiveness"], data["ranking"]
        if not 0.0 <= float(rank["exploration"]) <= 1.0:
            raise ValueError(f"{path}: ranking.exploration must be between 0 and 1")
        if not 0.0 < float(effect["confidence"]) < 1.0:
            raise ValueError(f"{path}: effectiveness.confidence must be between 0 and 1")
        return cls(
            min_uses=int(effect["min_uses"]),
            confidence=float(effect["confidence"]),
            ranking=RankingSettings(
                exploration=float(rank["exploration"]),
                fit_margin=int(rank["fit_margin"]),
                effect_weight=float(rank["effect_weight"]),
                pick_weight=float(rank["pick_weight"]),
                prior_mean=float(rank["effect_prior"]["mean"]),
                prior_strength=float(rank["effect_prior"]["strength"]),
                prior_sd=float(rank["effect_prior"]["sd"]),
                pick_alpha=float(rank["pick_prior"]["alpha"]),
                pick_beta=float(rank["pick_prior"]["beta"]),
                window_days=float(rank["window_days"]),
                refresh_seconds=float(rank["refresh_seconds"]),
            ),
        )
