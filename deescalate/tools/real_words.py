"""The NLU measured on real customers' words (`make eval`, second part).

    python -m deescalate.tools.real_words [--model PATH] [--real-dev DIR] [--json FILE]

`../shared/real-dev/` (beside the repository; `DEESCALATE_REAL_DEV` names
another folder) holds real complaints and Weibo posts labelled against the
contract. They are for measuring only: nothing here is trained on them. When
the folder is absent the evaluation says so and skips; the product never needs
it. Scores, on `complaints.yml` without its `skip` items:

- the cause (the parse's `cause`, or for a model without one its best intent):
  accuracy, per-cause P/R/F1, macro-F1 over causes with at least five items,
  the most confused pairs, and lenient accuracy that counts the labelled `alt`
  as right, overall and on `confidence: high` items;
- emotion macro-F1 and upset-vs-calm F1 (upset = angry, furious, anxious);
- escalation recall and precision per complaint (any threat at all) and per value;
- the fallback rate: complaints for which the assist names no cause when it
  reads them as the first turn of a case (deescalate/assist: what an agent
  sees), and the cause macro-F1 of what it names (`shown_cause_macro_f1`).

`emotion_weibo.yml` scores upset-vs-calm and emotion macro-F1. Two peers run in
the same evaluation: a plain character n-gram logistic regression trained on the
same `data/`, and SnowNLP's sentiment (below 0.5 = upset) for upset-vs-calm.
The model's headline figures come with 95% intervals, and the model also reads
every item as speech-to-text writes it (`as_speech`): the hotline's register.
The figures themselves are computed in real_words_scores.py, the report in
real_words_report.py.
"""

import argparse
import asyncio
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from deescalate.contract import CAUSES
from deescalate.tools.build import ROOT, quiet_rasa_logs
from deescalate.tools.real_words_report import markdown
from deescalate.tools.real_words_scores import Predictions, intervals, scores, upset_f1


def real_dev_dir(explicit: Optional[Path] = None) -> Optional[Path]:
    """The real-words folder if it is there, else None."""
    folder = explicit or Path(os.environ.get("DEESCALATE_REAL_DEV", ROOT.parent / "shared" / "real-dev"))
    return folder if (folder / "complaints.yml").is_file() else None


def load_items(path: Path) -> List[Dict[str, Any]]:
    return [dict(item, text=str(item["text"])) for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []]


@dataclass
class RealWords:
    """The labelled sets of a real-words folder: complaints (without `skip`) and Weibo posts."""

    complaints: List[Dict[str, Any]]
    weibo: List[Dict[str, Any]]

    @classmethod
    def load(cls, folder: Path) -> "RealWords":
        complaints = [i for i in load_items(folder / "complaints.yml") if i.get("intent") != "skip"]
        weibo = load_items(folder / "emotion_weibo.yml") if (folder / "emotion_weibo.yml").is_file() else []
        return cls(complaints, weibo)

    def __len__(self) -> int:
        return len(self.complaints) + len(self.weibo)

    def as_speech(self) -> "RealWords":
        """The same items as speech-to-text would write them: see `as_speech`."""
        return RealWords(
            [dict(i, text=as_speech(i["text"])) for i in self.complaints],
            [dict(i, text=as_speech(i["text"])) for i in self.weibo],
        )


_PAUSES = re.compile(r"[\s，。！？、；：,.!?;:“”\"'‘’（）()【】《》<>…—~～·]+")
_LOOSE_SPACE = re.compile(r"(?<![0-9A-Za-z]) | (?![0-9A-Za-z])")


def as_speech(text: str) -> str:
    """A text as the hotline's speech-to-text writes it: no punctuation, no spaces.

    The real complaints are typed; the hotline's turns come from
    speech-to-text, which writes no punctuation. Reading the same complaints
    without it measures the hotline register on real customers' words. Two
    numbers or Latin words stay one space apart, as a recogniser writes them.
    """
    return _LOOSE_SPACE.sub("", _PAUSES.sub(" ", text)).strip()


def predicted_cause(parse: Dict[str, Any]) -> Dict[str, Any]:
    """The parse's cause; for a model without a cause classifier, its best cause intent."""
    if isinstance(parse.get("cause"), dict):
        return parse["cause"]
    for candidate in parse.get("intent_ranking") or [parse.get("intent") or {}]:
        if candidate.get("name") in CAUSES:
            return {"name": candidate["name"], "confidence": candidate.get("confidence", 0.0)}
    return {"name": None, "confidence": 0.0}


def escalations(parse: Dict[str, Any]) -> List[str]:
    return sorted({e["value"] for e in parse.get("entities") or [] if e.get("entity") == "escalation"})


async def _parse_all(model: Path, texts: List[str]) -> List[Dict[str, Any]]:
    from rasa.core.agent import Agent

    quiet_rasa_logs()
    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


@lru_cache(maxsize=1)
def _assist_engine() -> Any:
    """The assist engine of the repository's knowledge base and settings, loaded once per process."""
    from deescalate.assist.engine import AssistEngine
    from deescalate.assist.state import AssistSettings
    from deescalate.kb import KB_DIR, load_kb

    return AssistEngine(load_kb(KB_DIR), AssistSettings.from_yaml())


def first_turn_causes(parses: List[Dict[str, Any]]) -> List[Optional[str]]:
    """The cause the assist names for each parse read as the first turn of a new case (None: none).

    The assist, not the parse, decides whether a cause is sure enough to name
    (deescalate/assist/cause_evidence.py), so the fallback rate is read from it.
    """
    from deescalate.assist.state import CaseState

    engine = _assist_engine()
    return [engine.turn(CaseState(), parse).state.cause for parse in parses]


def texts_of(sets: RealWords) -> List[str]:
    return [i["text"] for i in sets.complaints + sets.weibo]


def readings(parses: List[Dict[str, Any]], sets: RealWords) -> Predictions:
    """Predictions from the parses of `texts_of(sets)`, in that order."""
    on_complaints, on_weibo = parses[: len(sets.complaints)], parses[len(sets.complaints) :]
    return Predictions(
        causes=[predicted_cause(p)["name"] for p in on_complaints],
        emotions=[emotion_of(p) for p in on_complaints],
        weibo_emotions=[emotion_of(p) for p in on_weibo],
        escalations=[escalations(p) for p in on_complaints],
        intent_fallbacks=[(p.get("intent") or {}).get("name") == "nlu_fallback" for p in on_complaints],
        shown_causes=first_turn_causes(on_complaints),
    )


def typed_and_spoken(model: Path, sets: RealWords) -> Tuple[Predictions, Predictions]:
    """The model's reading of the items as typed and as speech-to-text writes them (one model load)."""
    spoken = sets.as_speech()
    parses = asyncio.run(_parse_all(model, texts_of(sets) + texts_of(spoken)))
    return readings(parses[: len(sets)], sets), readings(parses[len(sets) :], spoken)


def emotion_of(parse: Dict[str, Any]) -> str:
    return (parse.get("emotion") or {}).get("name") or "calm"


def score_model(model: Path, complaints: List[Dict[str, Any]], weibo: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The model's real-words figures, with `speech`: the same on the items as speech-to-text writes them.

    The floors of test_nlu_quality and `make retrain` read these."""
    sets = RealWords(complaints, weibo)
    return model_scores(sets, *typed_and_spoken(model, sets))


def model_scores(sets: RealWords, typed: Predictions, spoken: Predictions) -> Dict[str, Any]:
    """Both readings scored against the same labels (scoring reads the labels, not the text)."""
    return {**scores(sets.complaints, sets.weibo, typed), "speech": scores(sets.complaints, sets.weibo, spoken)}


def baseline_predictions(sets: RealWords, data: Path = ROOT / "data") -> Predictions:
    """A plain char 1-3-gram TF-IDF logistic regression on the same training data.

    For the cause it learns from the cause examples, as the cause classifier
    does (trained on every intent it scored lower when measured); for the
    emotion from every example that carries one.
    """
    from rasa.shared.nlu.training_data.loading import load_data
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from deescalate.nlu.emotion import example_emotion

    messages = [
        m
        for path in sorted((data / "nlu").rglob("*.yml"))
        for m in load_data(str(path)).intent_examples
        if m.get("text")
    ]

    def fit(pairs: List[tuple]) -> Any:
        model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True), LogisticRegression(max_iter=2000)
        )
        return model.fit([t for t, _ in pairs], [label for _, label in pairs])

    texts = [i["text"] for i in sets.complaints]
    cause_only = fit([(m.get("text"), m.get("intent")) for m in messages if m.get("intent") in CAUSES])
    emotion = fit([(m.get("text"), example_emotion(m)) for m in messages if example_emotion(m)])
    return Predictions(
        causes=list(cause_only.predict(texts)),
        emotions=list(emotion.predict(texts)),
        weibo_emotions=list(emotion.predict([i["text"] for i in sets.weibo])) if sets.weibo else [],
    )


def snownlp_peer(complaints: List[Dict[str, Any]], weibo: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """SnowNLP sentiment below 0.5 read as upset; None when SnowNLP is not installed."""
    try:
        from snownlp import SnowNLP
    except ImportError:
        return None

    def labels(items: List[Dict[str, Any]]) -> List[str]:
        return ["angry" if SnowNLP(i["text"]).sentiments < 0.5 else "calm" for i in items]

    return {
        "upset_f1": upset_f1([i["emotion"] for i in complaints], labels(complaints)),
        "weibo": {"upset_f1": upset_f1([i["emotion"] for i in weibo], labels(weibo))},
    }


def evaluate_real_words(model: Path, folder: Path) -> Dict[str, Any]:
    """The model's figures (typed, and as speech-to-text writes them) with the typed figures' 95%
    intervals, beside the plain baseline and SnowNLP."""
    sets = RealWords.load(folder)
    typed, spoken = typed_and_spoken(model, sets)
    baseline = baseline_predictions(sets)
    return {
        "model": model_scores(sets, typed, spoken),
        "intervals": intervals(sets.complaints, sets.weibo, typed, baseline),
        "plain_baseline": scores(sets.complaints, sets.weibo, baseline),
        "snownlp": snownlp_peer(sets.complaints, sets.weibo),
    }


WEIBO, SPEECH = "weibo", "speech"


def flat_figures(found: Dict[str, Any], prefix: str = "") -> Dict[str, float]:
    """A model's real-words figures as one level: `weibo_upset_f1`, `speech_cause_macro_f1`, ..."""
    figures: Dict[str, float] = {}
    for key, value in found.items():
        if key in (WEIBO, SPEECH) and isinstance(value, dict):
            figures.update(flat_figures(value, f"{prefix}{key}_"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and key != "items":
            figures[prefix + key] = float(value)
    return figures


def flat_limits(real_floors: Dict[str, Any]) -> Tuple[Dict[str, float], Dict[str, float]]:
    """floors.yml's `real_words` floors and ceilings, named as `flat_figures` names the figures."""
    floors = {**real_floors.get("complaints", {})}
    floors.update({f"{WEIBO}_{k}": v for k, v in real_floors.get(WEIBO, {}).items()})
    floors.update({f"{SPEECH}_{k}": v for k, v in real_floors.get(SPEECH, {}).items()})
    return floors, dict(real_floors.get("complaints_at_most", {}))


SKIP_MESSAGE = (
    "real-words evaluation skipped: no ../shared/real-dev/complaints.yml beside the repository "
    "(set DEESCALATE_REAL_DEV to its folder to run it)"
)


def main(argv: Optional[List[str]] = None) -> int:
    from deescalate.tools.build import ensure_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--real-dev", type=Path)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    folder = real_dev_dir(args.real_dev)
    if folder is None:
        print(SKIP_MESSAGE)
        return 0
    report = evaluate_real_words(args.model or ensure_model(), folder)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
