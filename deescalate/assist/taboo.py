"""Checks what an agent is about to say against the taboo list in scripts_kb/taboo.yml.

Each entry has regex patterns for the phrase and its paraphrases, and `allow`
patterns for harmless uses of the same words ("按照规定，我们三个工作日内给您
答复" explains a commitment and is fine). A match counts only when no allow
pattern matches within the same sentence.
"""
import re
from typing import Any, Dict, List

_SENTENCE_END = re.compile(r"[^。！？!?；;\n]+[。！？!?；;\n]*")


class TabooChecker:
    def __init__(self, entries: List[Dict[str, Any]]) -> None:
        self.entries = [
            {**entry,
             "_patterns": [re.compile(p) for p in entry["patterns"]],
             "_allow": [re.compile(p) for p in entry.get("allow", [])]}
            for entry in entries
        ]

    def check(self, text: str) -> List[Dict[str, Any]]:
        """Each taboo phrase found in `text`, with why it hurts and a rewrite."""
        found = []
        for sentence in _SENTENCE_END.finditer(text):
            clause = sentence.group(0)
            for entry in self.entries:
                match = next((m for p in entry["_patterns"] for m in [p.search(clause)] if m), None)
                if not match or any(a.search(clause) for a in entry["_allow"]):
                    continue
                if any(f["id"] == entry["id"] for f in found):
                    continue
                found.append({
                    "id": entry["id"], "phrase": entry["phrase"], "matched": match.group(0),
                    "start": sentence.start() + match.start(), "end": sentence.start() + match.end(),
                    "why": entry["why"], "rewrite": entry["rewrite"],
                })
        return found
