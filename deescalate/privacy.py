"""Masking of personal data before anything is stored or logged.

Customers read out or type phone numbers, resident IDs, card and policy
numbers while complaining. The NLU works on the raw words in memory; what is
written to the tracker store, the case records and the logs carries typed
placeholders instead, e.g. 【手机号****5678】, 【身份证号】.

Numbers are found the way a person reads them: full-width digits, spoken
Chinese digits (一三八零…) and digit groups split by spaces or dashes are
first read into a shadow text of the same length, so every offset found in
the shadow is an offset in the original. The rules (what counts, what
replaces it) live in privacy.yml.
"""

import logging
import re
from functools import lru_cache
from typing import Any, List, Optional, Sequence, Tuple

from deescalate.privacy_rules import Finding, Masked, PrivacySettings, luhn_valid, resident_id_valid

MEMO_SIZE = 4096  # masked strings remembered per masker, least recently used forgotten first
MEMO_MAX_CHARS = 2000  # longer strings are masked every time

_ASCII_DIGIT, _WIDE_DIGIT, _SPOKEN_DIGIT = "a", "f", "c"


# ---------------------------------------------------------------- masker


class Masker:
    """Finds and replaces personal data by the rules of privacy.yml."""

    def __init__(self, settings: Optional[PrivacySettings] = None) -> None:
        self.settings = settings or PrivacySettings.from_yaml()
        s = self.settings
        digit = r"[0-9]+(?:[Xx](?![A-Za-z0-9]))?"
        separator = r"(?: {1,2}| {0,2}-{1,2} {0,2})"
        self._run = re.compile(rf"{digit}(?:{separator}{digit})*")
        self._spoken = s.spoken_digits
        self._space_chars = set(s.spaces)
        self._dash_chars = set(s.dashes)
        # Most strings a save masks are the knowledge base's own lines, shown
        # again turn after turn; a masked string is remembered, not re-read.
        self._remembered = lru_cache(maxsize=MEMO_SIZE)(self._masked)

    # -- reading -----------------------------------------------------------

    def read(self, text: str) -> Tuple[str, List[Optional[str]]]:
        """The shadow text (same length) and, per character, its digit script."""
        chars: List[str] = []
        scripts: List[Optional[str]] = []
        for char in text:
            code = ord(char)
            script = None
            if "0" <= char <= "9":
                script = _ASCII_DIGIT
            elif 0xFF10 <= code <= 0xFF19:
                char, script = chr(code - 0xFEE0), _WIDE_DIGIT
            elif char in self._spoken and not self._beside_unit(text, len(chars)):
                char, script = self._spoken[char], _SPOKEN_DIGIT
            elif 0xFF01 <= code <= 0xFF5E:
                char = chr(code - 0xFEE0)
            elif char in self._space_chars:
                char = " "
            elif char in self._dash_chars:
                char = "-"
            chars.append(char)
            scripts.append(script)
        for index in range(1, len(text) - 1):
            if (
                text[index] in self.settings.between_spoken_digits
                and scripts[index - 1] == _SPOKEN_DIGIT == scripts[index + 1]
            ):
                chars[index] = " "
        return "".join(chars), scripts

    def _beside_unit(self, text: str, index: int) -> bool:
        units, after = self.settings.spoken_units, self.settings.spoken_units_after
        return (index > 0 and text[index - 1] in units) or (index + 1 < len(text) and text[index + 1] in units + after)

    # -- numbers -----------------------------------------------------------

    def classify(self, digits: str) -> Optional[str]:
        """The kind of personal number `digits` is (ASCII digits, maybe a final X), if any."""
        index = self._rule_index(digits)
        return self.settings.numbers[index].kind if index is not None else None

    def _rule_index(self, digits: str) -> Optional[int]:
        for index, rule in enumerate(self.settings.numbers):
            if not rule.pattern.fullmatch(digits):
                continue
            if rule.check == "luhn" and not luhn_valid(digits):
                continue
            if rule.check == "resident_id" and not resident_id_valid(
                digits, self.settings.provinces, self.settings.earliest_birth_year
            ):
                continue
            return index
        return None

    def _run_findings(self, shadow: str, scripts: Sequence[Optional[str]]) -> List[Finding]:
        findings = []
        for run in self._run.finditer(shadow):
            findings.extend(self._numbers_in_run(shadow, scripts, run.start(), run.end()))
        return findings

    def _numbers_in_run(self, shadow: str, scripts: Sequence[Optional[str]], start: int, end: int) -> List[Finding]:
        digits: List[str] = []
        positions: List[int] = []
        chunks: List[int] = []
        kinds: List[Optional[str]] = []
        chunk, last_script = 0, None
        for index in range(start, end):
            char = shadow[index]
            if char in " -":
                if chunks and chunks[-1] == chunk:
                    chunk += 1
                continue
            last_script = scripts[index] or last_script  # an X takes its digits' script
            digits.append(char.upper())
            positions.append(index)
            chunks.append(chunk)
            kinds.append(last_script)
        bounds = (
            [0]
            + [k for k in range(1, len(digits)) if chunks[k] != chunks[k - 1] or kinds[k] != kinds[k - 1]]
            + [len(digits)]
        )
        candidates = []
        for i, a in enumerate(bounds[:-1]):
            for b in bounds[i + 1 :]:
                if b - a > self.settings.max_digits or "X" in digits[a : b - 1]:
                    break
                value = "".join(digits[a:b])
                if not self._groups_fit(value, chunks[a:b]):
                    continue
                rule = self._rule_index(value)
                if rule is not None:
                    candidates.append((-(b - a), rule, a, b))
        taken: List[Tuple[int, int]] = []
        found = []
        for _, rule, a, b in sorted(candidates):
            if any(a < tb and ta < b for ta, tb in taken):
                continue
            taken.append((a, b))
            kind = self.settings.numbers[rule].kind
            first, last = positions[a], positions[b - 1] + 1
            if kind in ("mobile", "landline"):
                first = self._with_prefix(shadow, first)
            found.append(Finding(first, last, kind, ""))
        return found

    def _groups_fit(self, value: str, chunks: Sequence[int]) -> bool:
        """Inner digit groups are long enough; a short first group is a country prefix."""
        sizes: List[int] = []
        for chunk_index, chunk in enumerate(chunks):
            if chunk_index and chunk == chunks[chunk_index - 1]:
                sizes[-1] += 1
            else:
                sizes.append(1)
        if len(sizes) == 1:
            return True
        minimum = self.settings.min_group_digits
        if sizes[0] < minimum and value[: sizes[0]] not in self.settings.country_prefixes:
            return False
        return all(size >= minimum for size in sizes[1:-1])

    def _with_prefix(self, shadow: str, start: int) -> int:
        before = shadow[max(0, start - 16) : start]
        match = self.settings.phone_prefix.search(before)
        return start - (len(before) - match.start()) if match else start

    # -- text rules --------------------------------------------------------

    def _rule_findings(self, shadow: str) -> List[Finding]:
        found: List[Finding] = []
        for rule in self.settings.patterns:
            found.extend(Finding(m.start(), m.end(), rule.kind, "") for m in rule.pattern.finditer(shadow))
        for rule in self.settings.keywords:
            for match in rule.pattern.finditer(shadow):
                value = match.group("value")
                if sum(ch.isdigit() for ch in value) >= rule.min_digits:
                    found.append(Finding(match.start("value"), match.end("value"), rule.kind, ""))
        return found

    # -- public ------------------------------------------------------------

    def find(self, text: str) -> List[Finding]:
        """Every piece of personal data in `text`, merged where they overlap, in order."""
        if not text:
            return []
        shadow, scripts = self.read(text)
        found = sorted(
            self._run_findings(shadow, scripts) + self._rule_findings(shadow),
            key=lambda f: (f.start, -(f.end - f.start)),
        )
        merged: List[Finding] = []
        for finding in found:
            if merged and finding.start < merged[-1].end:
                previous = merged[-1]
                longer = previous if previous.end - previous.start >= finding.end - finding.start else finding
                merged[-1] = Finding(previous.start, max(previous.end, finding.end), longer.kind, "")
            else:
                merged.append(finding)
        return [
            Finding(f.start, f.end, f.kind, "".join(c for c in shadow[f.start : f.end] if c.isdigit())[-4:])
            for f in merged
        ]

    def placeholder(self, finding: Finding) -> str:
        return self.settings.placeholders[finding.kind].format(last4=finding.last4)

    def mask_with_spans(self, text: str) -> Masked:
        """`text` masked, with where each piece was; remembered for short strings (MEMO_SIZE, MEMO_MAX_CHARS)."""
        return self._remembered(text) if len(text) <= MEMO_MAX_CHARS else self._masked(text)

    def _masked(self, text: str) -> Masked:
        findings = self.find(text)
        placeholders = [self.placeholder(f) for f in findings]
        parts, cursor = [], 0
        for finding, placeholder in zip(findings, placeholders):
            parts.append(text[cursor : finding.start])
            parts.append(placeholder)
            cursor = finding.end
        parts.append(text[cursor:])
        return Masked("".join(parts), tuple(findings), tuple(placeholders))

    def mask(self, text: str) -> str:
        """`text` with every piece of personal data replaced by its placeholder."""
        return self.mask_with_spans(text).text if text else text

    def is_personal_number(self, value: Any) -> bool:
        """A whole number that would be masked in text (e.g. a phone number taken for an amount)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if value != value or abs(value) < 1e9 or value != int(value):  # NaN, short, fractional
            return False
        return self.classify(str(int(abs(value)))) is not None

    def mask_value(self, value: Any, key: Optional[str] = None) -> Any:
        """A JSON-like value with its strings masked and personal numbers dropped.

        Values under the settings' `keep_keys` (names, ids, timestamps) are kept.
        """
        if key in self.settings.keep_keys:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {k: self.mask_value(v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.mask_value(item, key) for item in value]
        if self.is_personal_number(value):
            return None
        return value


@lru_cache(maxsize=None)
def default_masker() -> Masker:
    return Masker(PrivacySettings.from_yaml())


def mask(text: str) -> str:
    """Mask `text` with the rules of privacy.yml."""
    return default_masker().mask(text)


# ---------------------------------------------------------------- logging

_installed = {"factory": False}


def install_log_masking(masker: Optional[Masker] = None) -> None:
    """Mask every log record of this process when it is created.

    A record factory (rather than a handler filter) also covers handlers that
    are added later, e.g. by Sanic. Records are created only for enabled
    levels, so the cost is paid only for lines that are written.
    """
    if _installed["factory"]:
        return
    masker = masker or default_masker()
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call is logging's problem, not ours
            return record
        masked = masker.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    logging.setLogRecordFactory(masked_record)
    _installed["factory"] = True
