"""The one reading of knowledge-base lines: plain strings or objects with conditions.

A line in a cause file is either a string or `{text, when, tags, emotions,
stages, asks}`; `as_item` turns both into the object form. `customer_lines`
lists every line a customer may hear, which the compliance lint and the taboo
check read; `conditioned_items` lists everything that carries a condition.
"""

from typing import Any, Dict, Iterator, Tuple

# Facts the engine adds to what the customer said; conditions may use them too.
ENGINE_FACTS = (
    "amount",
    "product",
    "emotion",
    "heated_turns",
    "domain",
    "cause",
    "stage",
    "demands",
    "escalations",
    "turns",
    "abnormal",
)

CAUSE_LINE_KINDS = ("restate", "questions", "commitments")


def as_item(line: Any) -> Dict[str, Any]:
    """A line as an object with at least `text`."""
    return {"text": line} if isinstance(line, str) else dict(line)


def entry_lines(entry: Dict[str, Any]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(key, item) for every customer line of one cause×domain entry."""
    for kind in CAUSE_LINE_KINDS:
        for index, line in enumerate(entry[kind]):
            yield f"{kind}[{index}]", as_item(line)
    for style in ("plain", "precise"):
        for index, line in enumerate(entry["explanations"][style]):
            yield f"explanations.{style}[{index}]", as_item(line)
    for index, choice in enumerate(entry["choices"]):
        yield f"choices[{index}].offer", {**choice, "text": choice["offer"]}


def customer_lines(kb: Any) -> Iterator[Tuple[str, str, str]]:
    """(source file, key, text) for every line a customer may hear."""
    for cause, data in kb.causes.items():
        for domain, entry in data["domains"].items():
            for key, item in entry_lines(entry):
                yield kb.sources[cause], f"domains.{domain}.{key}", item["text"]
    for emotion, detail in kb.empathy["emotions"].items():
        for index, text in enumerate(detail["lines"]):
            yield kb.sources["empathy"], f"emotions.{emotion}.lines[{index}]", text
    for name, situation in kb.empathy["situations"].items():
        for index, text in enumerate(situation["lines"]):
            yield kb.sources["empathy"], f"situations.{name}.lines[{index}]", text
    for stage, detail in kb.stages.items():
        for index, text in enumerate(detail["lines"]):
            yield kb.sources["stages"], f"stages.{stage}.lines[{index}]", text
    for value, handling in kb.escalation["escalation"].items():
        for index, text in enumerate(handling["lines"]):
            yield kb.sources["escalation"], f"escalation.{value}.lines[{index}]", text
    for group, texts in kb.voice.items():
        for index, text in enumerate(texts):
            yield kb.sources["voice"], f"{group}[{index}]", text


def conditioned_items(kb: Any) -> Iterator[Tuple[str, str, Dict[str, Any]]]:
    """(source file, key, item) for every line, fact, choice or situation that may carry a condition."""
    for cause, data in kb.causes.items():
        for domain, entry in data["domains"].items():
            prefix = f"domains.{domain}"
            for key, item in entry_lines(entry):
                yield kb.sources[cause], f"{prefix}.{key}", item
            for group in ("facts", "watch"):
                for index, fact in enumerate(entry.get(group, [])):
                    yield kb.sources[cause], f"{prefix}.{group}[{index}]", as_item(fact)
    for name, situation in kb.empathy["situations"].items():
        yield kb.sources["empathy"], f"situations.{name}", situation
