"""Multi-turn conversation tests with Rasa's own `rasa test core`."""

import subprocess
import sys

import yaml

from deescalate.tools.build import ROOT


def test_conversation_stories_pass(tmp_path, trained_model):
    out = tmp_path / "results"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rasa",
            "test",
            "core",
            "--model",
            str(trained_model),
            "--stories",
            str(ROOT / "tests" / "conversations"),
            "--out",
            str(out),
            "--fail-on-prediction-errors",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = out / "failed_test_stories.yml"
    failures = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert result.returncode == 0, failures or result.stderr[-3000:]
    stories = yaml.safe_load((ROOT / "tests" / "conversations" / "test_stories.yml").read_text(encoding="utf-8"))
    assert len(stories["stories"]) >= 8
