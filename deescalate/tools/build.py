"""Builds what the servers need, only when its inputs changed.

    python -m deescalate.tools.build spacy    # build/spacy_zh from data/nlu/ (lexicon and annotations)
    python -m deescalate.tools.build model    # train unless a model for these inputs exists
    python -m deescalate.tools.build hash     # print the model's input hash

A trained model is named by a hash of everything that shapes it: config.yml,
domain.yml, data/nlu/ and data/rules.yml, and the code of our NLU components. Models are kept in
MODEL_CACHE_DIR (default ~/.cache/deescalate/models), so a fresh clone on the
same machine, and CI, reuse a model trained from identical inputs.
"""

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, List, Sequence

ROOT = Path(__file__).resolve().parents[2]
LEXICON = ROOT / "data" / "nlu" / "lexicon.yml"
SPACY_DIR = ROOT / "build" / "spacy_zh"
# data/drafts/ trains the taboo check (deescalate/assist/taboo_model.py), not the NLU model.
# The NLU components' code and every module of ours they import (tests/test_build.py checks it).
MODEL_INPUTS = [
    "config.yml",
    "domain.yml",
    "data/nlu",
    "data/rules.yml",
    "deescalate/nlu",
    "deescalate/turn_policy.py",
    "deescalate/contract.py",
    "deescalate/textnorm.py",
    "deescalate/digits.py",
    "deescalate/homophones.py",
    "deescalate/homophones.yml",
]
TRAINING_DATA = ["data/nlu", "data/rules.yml"]


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "deescalate" / "models"
    return Path(os.environ.get("MODEL_CACHE_DIR", default))


def _files(paths: Iterable[str]) -> List[Path]:
    files: List[Path] = []
    for name in paths:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts)
    return sorted(files)


def input_hash(paths: Iterable[str] = MODEL_INPUTS) -> str:
    digest = hashlib.sha256()
    for path in _files(paths):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_spacy() -> Path:
    """(Re)build the spaCy pipeline when the NLU data or its builder changed."""
    stamp = SPACY_DIR / "inputs.sha"
    wanted = input_hash(
        [
            "data/nlu",
            "deescalate/nlu/lexicon.py",
            "deescalate/nlu/spacy_tokenizer.py",
            "deescalate/nlu/spacy_pipeline.py",
        ]
    )
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return SPACY_DIR
    from deescalate.nlu.lexicon import annotated_phrases, load_lexicon
    from deescalate.nlu.spacy_pipeline import build_pipeline

    training_files = sorted((ROOT / "data" / "nlu").rglob("*.yml"))
    lexicon = load_lexicon(LEXICON)
    lexicon.annotated_escalations = annotated_phrases(training_files, entity="escalation")
    nlp = build_pipeline(lexicon)
    tokenizer: Any = nlp.tokenizer  # our jieba tokenizer (spacy_tokenizer.py)
    tokenizer.add_words(annotated_phrases(training_files))
    if SPACY_DIR.exists():
        shutil.rmtree(SPACY_DIR)
    SPACY_DIR.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(SPACY_DIR)
    stamp.write_text(wanted)
    print(f"built spaCy pipeline {SPACY_DIR.relative_to(ROOT)}")
    return SPACY_DIR


def model_path() -> Path:
    return cache_dir() / f"assist-{input_hash()}.tar.gz"


def train_command(
    out: Path,
    name: str,
    config: str = "config.yml",
    domain: str = "domain.yml",
    data: Sequence[str] = TRAINING_DATA,
) -> List[str]:
    """The `rasa train` command line for one model written to out/name.tar.gz."""
    return [sys.executable, "-m", "rasa", "train", "--force", "--config", config, "--domain", domain,
            "--data", *data, "--out", str(out), "--fixed-model-name", name]  # fmt: skip


def ensure_model() -> Path:
    """Train a model for the current inputs unless the cache already has one."""
    build_spacy()
    target = model_path()
    if target.exists():
        print(f"model up to date: {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"training {target.name} (inputs changed or no cached model)...", flush=True)
    command = train_command(target.parent, target.name[: -len(".tar.gz")])
    subprocess.run(command, cwd=ROOT, check=True)
    return target


def quiet_rasa_logs() -> None:
    """Rasa's structured log at INFO for tools that parse many texts in process.

    Unconfigured, it renders every parse at debug level with the message text:
    an evaluation would print every test and real-dev text it reads."""
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)


def main(argv: List[str]) -> int:
    command = argv[0] if argv else "model"
    if command == "spacy":
        build_spacy()
    elif command == "model":
        print(ensure_model())
    elif command == "hash":
        print(input_hash())
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
