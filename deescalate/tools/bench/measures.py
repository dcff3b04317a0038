"""What the bench measures outside the servers' traffic: training from scratch,
the taboo check in process, and the growth of a long case."""

import os
from pathlib import Path
from typing import Any, Dict, List

from deescalate.tools.bench.processes import base_env, run_bounded
from deescalate.tools.bench.settings import BenchError, ratio, summarize, window_means
from deescalate.tools.build import train_command


def measure_train(settings: Dict[str, Any], workdir: Path) -> Dict[str, Any]:
    """`rasa train` of our model from scratch: a temporary output folder and an empty Rasa cache."""
    if os.environ.get("BENCH_SKIP_TRAIN") == "1":
        return {"skipped": True}
    out = workdir / "train"
    env = {**base_env(), "RASA_CACHE_DIRECTORY": str(out / "cache")}
    command = train_command(out, "bench-from-scratch")
    print("measuring `rasa train` from scratch...", flush=True)
    seconds = run_bounded(command, settings["train_timeout_s"], workdir / "log" / "train.log", env=env)
    if not (out / "bench-from-scratch.tar.gz").exists():
        raise BenchError(f"rasa train wrote no model; see {workdir / 'log' / 'train.log'}")
    return {"skipped": False, "seconds": round(seconds, 1)}


def measure_taboo_check(settings: Dict[str, Any]) -> Dict[str, Any]:
    """One agent draft through the taboo check, in this process (no server in between)."""
    from deescalate.tools.taboo_eval import check_latencies_ms

    checks = settings["taboo_checks"]
    print(f"timing the taboo check: {checks} drafts...", flush=True)
    return {"checks": checks, **summarize(check_latencies_ms(checks))}


def window_labels(turns: int, window: int) -> Dict[str, str]:
    """The turn ranges compared by the growth measurement, e.g. 1–10 and 91–100."""
    return {"first": f"1–{window}", "last": f"{turns - window + 1}–{turns}"}


def growth_summary(series: Dict[str, List[float]], window: int) -> Dict[str, Any]:
    summary = {}
    for name, values in series.items():
        first, last = window_means(values, window)
        summary[name] = {
            "first_mean": round(first, 2),
            "last_mean": round(last, 2),
            "growth": round(ratio(last, first), 3),
        }
    return summary
