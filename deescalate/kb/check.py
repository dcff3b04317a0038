"""`make kb-check`: validate the knowledge base, then run the taboo check over every line an agent may say.

    python -m deescalate.kb.check scripts_kb

A suggestion that itself breaks a taboo family (scripts_kb/taboo.yml) would
teach agents the very thing the draft check flags, so any flagged
customer-facing line fails the check, with its file, key and family.
"""
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

from deescalate.kb.loader import KBError, KnowledgeBase, load_kb

# Template variables filled with ordinary values so the check reads a line as an agent would say it.
SAMPLE_VALUES = {"product": "这款产品", "amount": "两千元", "cause_label": "这笔扣费", "domain_label": "银行",
                 "approver": "主管", "emotion_label": "着急"}


def customer_lines(kb: KnowledgeBase) -> Iterator[Tuple[str, str, str]]:
    """(file, key, line) for every line of the knowledge base meant to be said to a customer."""
    for cause, data in kb.causes.items():
        for domain, entry in data["domains"].items():
            key = f"domains.{domain}"
            for part in ("restate", "questions", "commitments"):
                for index, line in enumerate(entry[part]):
                    yield kb.sources[cause], f"{key}.{part}[{index}]", line
            for register in ("plain", "precise"):
                for index, line in enumerate(entry["explanations"][register]):
                    yield kb.sources[cause], f"{key}.explanations.{register}[{index}]", line
            for index, choice in enumerate(entry["choices"]):
                yield kb.sources[cause], f"{key}.choices[{index}].offer", choice["offer"]
    for group in ("emotions", "situations"):
        for name, block in kb.empathy[group].items():
            for index, line in enumerate(block["lines"]):
                yield kb.sources["empathy"], f"{group}.{name}.lines[{index}]", line
    for name, stage in kb.stages.items():
        for index, line in enumerate(stage["lines"]):
            yield kb.sources["stages"], f"{name}.lines[{index}]", line
    for name, handling in kb.escalation["escalation"].items():
        for index, line in enumerate(handling["lines"]):
            yield kb.sources["escalation"], f"escalation.{name}.lines[{index}]", line
    for name, lines in kb.voice.items():
        for index, line in enumerate(lines if isinstance(lines, list) else []):
            yield kb.sources["voice"], f"{name}[{index}]", line


def taboo_violations(kb: KnowledgeBase) -> List[str]:
    """One message per customer-facing line that a taboo family flags."""
    from deescalate.assist.taboo import TabooChecker

    checker = TabooChecker(kb.taboo)
    problems = []
    for source, key, line in customer_lines(kb):
        text = line.format_map(SAMPLE_VALUES) if "{" in line else line
        for hit in checker.check(text):
            problems.append(f"{source}: {key}: {hit['label']} ({hit['family']}) in “{hit['matched']}”: {line}")
    return problems


def main(argv: List[str]) -> int:
    root = Path(argv[0] if argv else "scripts_kb")
    try:
        kb = load_kb(root)
    except KBError as error:
        print(f"knowledge base error: {error}", file=sys.stderr)
        return 1
    problems = taboo_violations(kb)
    for problem in problems:
        print(f"taboo line: {problem}", file=sys.stderr)
    if problems:
        print(f"knowledge base has {len(problems)} customer-facing line(s) the taboo check flags", file=sys.stderr)
        return 1
    size = kb.size()
    print(f"knowledge base OK: {size['causes']} causes, {size['cause_domains']} cause×domain entries, "
          f"{size['cause_lines']} cause lines, {size['taboo_entries']} taboo families, "
          f"every customer-facing line passes the taboo check")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
