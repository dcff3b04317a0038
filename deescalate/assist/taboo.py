"""Checks what an agent is about to say against the taboo families of scripts_kb/taboo.yml.

A family flags a draft when its classifier (deescalate/assist/taboo_model.py)
reads the family's meaning in it, or one of its precise `patterns` matches, and
none of its `fair` patterns does (the same words with a way forward, a
condition or an approval asked for). Drafts are normalised first, one character
for one, so every span found is a span of the text the agent typed.

Each flag marks the clause that triggered it (`start`, `end`, `matched`) and
carries the family's reason and a repair: `rewrite` replaces only that clause,
and `rewritten` is the whole draft with the repair in place. Other clauses that
break the same family on their own join the span, so one repair stands for the
whole offending part and the rest of the draft is kept as the agent wrote it.
"""

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Pattern, Sequence, Tuple

from deescalate.assist import taboo_model
from deescalate.assist.taboo_model import DRAFTS_DIR, FamilyModel, trained_model
from deescalate.textnorm import normalize_text

MAX_DRAFT = 2000  # longer drafts are checked on their first MAX_DRAFT characters
WHOLE_DRAFT = 80  # drafts up to this long are read whole, longer ones two sentences at a time
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;\n]*")
_CLAUSE = re.compile(r"[^，,。！？!?；;：:\n]+")
_PARTY = re.compile(
    r"(保险公司|基金公司|信用卡中心|支付公司|支付平台|第三方平台|第三方支付机构|第三方|快递|物流|"
    r"运营商|商户|商家|银联|网点|开户行|公交公司|派出所|理赔部|物业|平台|业务员|客户经理)"
)
_MAX_REPAIRS = 3
FAMILY_FLOOR = 0.35  # the likeliest family of a taboo-reading draft flags above this


class _Family:
    def __init__(self, entry: Dict[str, Any]) -> None:
        self.entry = entry
        self.id: str = entry["id"]
        self.patterns: List[Pattern[str]] = [re.compile(p) for p in entry["patterns"]]
        self.fair: List[Pattern[str]] = [re.compile(p) for p in entry.get("fair", [])]

    def pattern_match(self, text: str) -> Optional[re.Match]:
        return next((m for p in self.patterns for m in [p.search(text)] if m), None)

    def is_fair(self, text: str) -> bool:
        return any(p.search(text) for p in self.fair)


def _spans(pattern: Pattern[str], text: str) -> List[Tuple[int, int]]:
    spans = []
    for match in pattern.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def _units(text: str) -> List[Tuple[int, int]]:
    """What the classifier reads: the whole draft, or two sentences at a time when it is long."""
    if len(text) <= WHOLE_DRAFT:
        return [(0, len(text))]
    sentences = _spans(_SENTENCE, text) or [(0, len(text))]
    if len(sentences) == 1:
        return sentences
    return [(sentences[i][0], sentences[i + 1][1]) for i in range(len(sentences) - 1)]


class TabooChecker:
    def __init__(
        self, entries: List[Dict[str, Any]], drafts: Path = DRAFTS_DIR, model: Optional[FamilyModel] = None
    ) -> None:
        self.families = [_Family(entry) for entry in entries]
        self.model = model or trained_model([f.id for f in self.families], drafts)
        self.threshold = self.model.threshold

    def labels(self) -> Dict[str, str]:
        """Family id -> its Chinese label, for pages that show recorded hits."""
        return {family.id: family.entry["label"] for family in self.families}

    def _score(self, texts: Sequence[str]) -> Any:
        return self.model.scores(texts)

    def check(self, text: str) -> List[Dict[str, Any]]:
        """Each family the draft breaks, with the span, why it hurts and a repair."""
        text = text[:MAX_DRAFT]
        if not text.strip():
            return []
        norm = normalize_text(text)
        units = _units(norm)
        scores = self._score([norm[a:b] for a, b in units])
        found = []
        likeliest = self._likeliest_family(scores)
        for column, family in enumerate(self.families):
            threshold = self.threshold if column != likeliest else min(self.threshold, FAMILY_FLOOR)
            hit = self._family_hit(norm, units, [row[column] for row in scores], family, threshold)
            if hit is not None:
                found.append(self._flag(text, norm, column, family, *hit))
        return found

    def _likeliest_family(self, scores: Any) -> Optional[int]:
        """The family column to trust below the threshold: the likeliest family of a unit
        that reads as taboo in general (the last column)."""
        row = scores[:, -1].argmax()
        if scores[row, -1] < taboo_model.ANY_THRESHOLD:
            return None
        return int(scores[row, :-1].argmax())

    def _family_hit(
        self, norm: str, units: List[Tuple[int, int]], unit_scores: List[float], family: _Family, threshold: float
    ) -> Optional[Tuple[str, float, Optional[Tuple[int, int]]]]:
        """(source, score, pattern span) when the family flags the draft, else None."""
        match = family.pattern_match(norm)
        best = max(range(len(units)), key=lambda i: unit_scores[i])
        score = float(unit_scores[best])
        if match is not None:
            around = next((u for u in units if u[0] <= match.start() < u[1]), (0, len(norm)))
            if family.is_fair(norm[around[0] : around[1]]):
                return None
            return "pattern", score, (match.start(), match.end())
        if score < threshold:
            return None
        a, b = units[best]
        if family.is_fair(norm[a:b]):
            return None
        return "model", score, None

    def _offending_clause(self, norm: str, column: int) -> Optional[Tuple[int, int]]:
        """The clause that reads most like the family."""
        clauses = _spans(_CLAUSE, norm)
        if not clauses:
            return None
        scores = self._score([norm[a:b] for a, b in clauses])[:, column]
        return clauses[int(scores.argmax())]

    def _also_offending(self, norm: str, column: int, family: _Family, span: Tuple[int, int]) -> List[Tuple[int, int]]:
        """Other clauses that break the family on their own (a pattern, or the classifier alone).

        A family whose repair follows the fact it softens (`extend: after`, a flat no)
        keeps the clauses before its span: the no stays, the dead end goes."""
        backwards = family.entry.get("extend", "both") == "both"
        others = [c for c in _spans(_CLAUSE, norm) if (backwards and c[1] <= span[0]) or c[0] >= span[1]]
        if not others:
            return []
        scores = self._score([norm[a:b] for a, b in others])[:, column]
        return [
            c
            for c, p in zip(others, scores)
            if p >= self.threshold or family.pattern_match(norm[c[0] : c[1]]) is not None
        ]

    def _flag(
        self,
        text: str,
        norm: str,
        column: int,
        family: _Family,
        source: str,
        score: float,
        pattern_span: Optional[Tuple[int, int]],
    ) -> Dict[str, Any]:
        if pattern_span is not None:
            clauses = [c for c in _spans(_CLAUSE, norm) if c[0] < pattern_span[1] and pattern_span[0] < c[1]]
            span = (min(c[0] for c in clauses), max(c[1] for c in clauses)) if clauses else pattern_span
        else:
            span = self._offending_clause(norm, column) or (0, len(norm))
        extra = self._also_offending(norm, column, family, span)[:_MAX_REPAIRS]
        if extra:
            span = (min(span[0], *(c[0] for c in extra)), max(span[1], *(c[1] for c in extra)))
        repair = self._repair(family, norm[span[0] : span[1]], norm)
        if span[1] < len(norm) and norm[span[1]] == "?" and not repair.endswith(("吗", "呢")):
            span, repair = (span[0], span[1] + 1), repair + "。"  # the repair is no longer a question
        entry = family.entry
        return {
            "id": family.id,
            "family": family.id,
            "label": entry["label"],
            "phrase": text[span[0] : span[1]],
            "matched": text[span[0] : span[1]],
            "start": span[0],
            "end": span[1],
            "source": source,
            "score": round(score, 3),
            "why": entry["why"],
            "advice": entry["advice"],
            "rewrite": repair,
            "rewritten": text[: span[0]] + repair + text[span[1] :],
        }

    @staticmethod
    def _repair(family: _Family, clause: str, draft: str) -> str:
        party = _PARTY.search(clause) or _PARTY.search(draft)
        return family.entry["repair"].replace("{party}", party.group(0) if party else "相关部门")
