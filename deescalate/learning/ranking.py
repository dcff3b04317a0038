"""Ranking that learns: among the lines that fit a case, prefer those that calm customers.

Each line has two posteriors, from the recorded cases of the last
`window_days` (actions/learning.yml, `ranking`):

- its emotion change per send (negative is calmer): a Normal posterior whose
  prior is centred on the pooled mean change of all lines (the configured
  `effect_prior.mean` while nothing is measured) and is worth
  `effect_prior.strength` sends: mean = (strength * prior + sum of changes) /
  (strength + n), spread `effect_prior.sd / sqrt(strength + n)`. A new line
  therefore starts as an average line, neither favoured nor buried;
- the share of showings in which an agent sent it: a Beta(alpha + sent,
  beta + shown - sent) posterior, taken at its mean.

Only lines within `fit_margin` fit points of the best-fitting one compete.
A share `exploration` of picks takes one of them at random; the others go to
the highest value, fit score + `effect_weight` * (a draw of the calming from
the posterior: Thompson sampling, so a line with few sends gets its chances)
+ `pick_weight` * (pick share). A pinned line that fits comes first; a
retired line is never offered.

The random draws come from a generator seeded by the case and its turn
number, so the same turn of the same case ranks the same way again.
"""

import math
import random
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from deescalate.learning.settings import RankingSettings


@dataclass(frozen=True)
class LineStats:
    """One line's record over the window."""

    shown: int = 0
    sent: int = 0
    n: int = 0  # sends with an emotion change
    total_change: float = 0.0

    @property
    def mean_change(self) -> Optional[float]:
        return self.total_change / self.n if self.n else None

    def __add__(self, other: "LineStats") -> "LineStats":
        """The record of two periods together (every field is a count or a sum)."""
        return LineStats(
            self.shown + other.shown, self.sent + other.sent, self.n + other.n, self.total_change + other.total_change
        )


def line_stats(tallies: Mapping[str, Any]) -> Dict[str, LineStats]:
    """Per line, the record of effectiveness tallies (deescalate.learning.effectiveness.Tally)."""
    return {line: LineStats(t.shown, t.sent, len(t.changes), math.fsum(t.changes)) for line, t in tallies.items()}


@dataclass(frozen=True)
class Figures:
    """Every line's record and the pinned and retired lines, as of one refresh."""

    stats: Mapping[str, LineStats] = field(default_factory=dict)
    states: Mapping[str, str] = field(default_factory=dict)  # line id -> "pinned" or "retired"

    @property
    def empty(self) -> bool:
        """Nothing to learn from: no line sent yet and none pinned or retired."""
        return not self.states and not any(s.sent for s in self.stats.values())

    def pooled_change(self) -> Optional[float]:
        """The mean emotion change over every measured send of every line."""
        n = sum(s.n for s in self.stats.values())
        return math.fsum(s.total_change for s in self.stats.values()) / n if n else None


def fit_only_why(fit_score: Optional[int]) -> Dict[str, Any]:
    """The `why` of a suggestion ranked without figures: only its fit is known."""
    return {"fit": fit_score, "used": None, "effect": None, "n": 0}


Candidate = Tuple[str, int]  # (line id, fit score)


class Ranker:
    """Picks among fitting lines by fit, effect and agents' picks, and says why."""

    def __init__(self, figures: Figures, settings: RankingSettings, rng: random.Random) -> None:
        self.figures = figures
        self.settings = settings
        self.rng = rng
        pooled = figures.pooled_change()
        self.prior_mean = settings.prior_mean if pooled is None else pooled

    def retired(self, line: str) -> bool:
        return self.figures.states.get(line) == "retired"

    def pinned(self, line: str) -> bool:
        return self.figures.states.get(line) == "pinned"

    def posterior(self, line: str) -> Tuple[float, float]:
        """Mean and spread of the line's emotion change per send."""
        s, stats = self.settings, self.figures.stats.get(line, LineStats())
        weight = s.prior_strength + stats.n
        if weight <= 0:
            return self.prior_mean, s.prior_sd
        return (s.prior_strength * self.prior_mean + stats.total_change) / weight, s.prior_sd / math.sqrt(weight)

    def pick_share(self, line: str) -> float:
        s, stats = self.settings, self.figures.stats.get(line, LineStats())
        sent = min(stats.sent, stats.shown)
        return (s.pick_alpha + sent) / (s.pick_alpha + s.pick_beta + stats.shown)

    def value(self, line: str, fit_score: int) -> float:
        """Fit plus a posterior draw of the line's calming plus its pick share, in fit points."""
        mean, spread = self.posterior(line)
        change = self.rng.gauss(mean, spread)
        return fit_score - self.settings.effect_weight * change + self.settings.pick_weight * self.pick_share(line)

    def choose(self, candidates: Sequence[Candidate]) -> Optional[int]:
        """The index of the candidate to offer: a pinned one first (best fit), else the best value
        among those within the fit margin; None when every candidate is retired."""
        open_ = [(i, line, score) for i, (line, score) in enumerate(candidates) if not self.retired(line)]
        if not open_:
            return None
        pinned = [c for c in open_ if self.pinned(c[1])]
        if pinned:
            return max(pinned, key=lambda c: (c[2], -c[0]))[0]
        best_fit = max(score for _, _, score in open_)
        close = [c for c in open_ if c[2] >= best_fit - self.settings.fit_margin]
        if self.rng.random() < self.settings.exploration:
            return self.rng.choice(close)[0]
        return max((self.value(line, score), -i, i) for i, line, score in close)[2]

    def why(self, line: str, fit_score: Optional[int]) -> Dict[str, Any]:
        """What the ranking knew of the line: fit score, times sent, mean emotion change, sends measured."""
        stats = self.figures.stats.get(line, LineStats())
        mean = stats.mean_change
        why: Dict[str, Any] = {
            "fit": fit_score,
            "used": stats.sent,
            "effect": round(mean, 3) if mean is not None else None,
            "n": stats.n,
        }
        if self.pinned(line):
            why["pinned"] = True
        return why


def seeded(case_id: str, turn: int) -> random.Random:
    """The generator of one turn of one case (the same turn ranks the same way again)."""
    return random.Random(f"{case_id}:{turn}")
