"""What counts as personal data (privacy.yml), what was found, and the check digits
(Luhn for cards, ISO 7064 for resident IDs). The masker is in privacy.py."""

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional, Pattern, Tuple

import yaml

from deescalate.digits import SPOKEN_DIGITS

SETTINGS_FILE = Path(__file__).resolve().with_name("privacy.yml")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True)
class NumberRule:
    kind: str
    pattern: Pattern[str]
    check: Optional[str] = None


@dataclass(frozen=True)
class TextRule:
    kind: str
    pattern: Pattern[str]
    min_digits: int = 0


@dataclass(frozen=True)
class PrivacySettings:
    placeholders: Dict[str, str]
    spoken_digits: Dict[str, str]
    spoken_units: str
    spoken_units_after: str
    spaces: str
    dashes: str
    between_spoken_digits: str
    max_digits: int
    min_group_digits: int
    country_prefixes: Tuple[str, ...]
    numbers: Tuple[NumberRule, ...]
    provinces: frozenset
    earliest_birth_year: int
    phone_prefix: Pattern[str]
    patterns: Tuple[TextRule, ...]
    keywords: Tuple[TextRule, ...]
    keep_keys: frozenset
    retention_days: int
    audit_retention_days: int

    @classmethod
    def from_yaml(cls, path: Path = SETTINGS_FILE) -> "PrivacySettings":
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        groups, separators, resident = data["number_groups"], data["separators"], data["resident_id"]
        return cls(
            placeholders=dict(data["placeholders"]),
            spoken_digits=dict(SPOKEN_DIGITS),
            spoken_units=str(data.get("spoken_units", "")),
            spoken_units_after=str(data.get("spoken_units_after", "")),
            spaces=separators["spaces"],
            dashes=separators["dashes"],
            between_spoken_digits=separators["between_spoken_digits"],
            max_digits=int(groups["max_digits"]),
            min_group_digits=int(groups["min_group_digits"]),
            country_prefixes=tuple(groups["country_prefixes"]),
            numbers=tuple(NumberRule(r["kind"], re.compile(r["pattern"]), r.get("check")) for r in data["numbers"]),
            provinces=frozenset(int(p) for p in resident["provinces"]),
            earliest_birth_year=int(resident["earliest_birth_year"]),
            phone_prefix=re.compile(data["phone_prefix"]),
            patterns=tuple(TextRule(r["kind"], re.compile(r["pattern"])) for r in data["patterns"]),
            keywords=tuple(
                TextRule(r["kind"], re.compile(r["pattern"]), int(r.get("min_digits", 0))) for r in data["keywords"]
            ),
            keep_keys=frozenset(data["keep_keys"]),
            retention_days=int(data["retention"]["days"]),
            audit_retention_days=int(data["retention"]["audit_days"]),
        )


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: text[start:end] of the original."""

    start: int
    end: int
    kind: str
    last4: str


@dataclass(frozen=True)
class Masked:
    """A masked text and where its placeholders replaced the original."""

    text: str
    findings: Tuple[Finding, ...]
    placeholders: Tuple[str, ...]

    def span(self, start: int, end: int) -> Tuple[int, int]:
        """Where the original span [start, end) lies in the masked text.

        A span reaching into a placeholder stretches to cover all of it.
        """
        return self._moved(start, at_start=True), self._moved(end, at_start=False)

    def _moved(self, position: int, at_start: bool) -> int:
        shift = 0
        for finding, placeholder in zip(self.findings, self.placeholders):
            if finding.end <= position:
                shift += len(placeholder) - (finding.end - finding.start)
            elif finding.start < position:
                return finding.start + shift + (0 if at_start else len(placeholder))
            else:
                break
        return position + shift


# ---------------------------------------------------------------- checks


def luhn_valid(digits: str) -> bool:
    """The Luhn check every bank card number passes."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def resident_id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of an 18-digit resident ID."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


def _valid_birth_date(text: str, earliest: int) -> bool:
    try:
        born = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return earliest <= born.year and born <= dt.date.today()


def resident_id_valid(digits: str, provinces: Iterable[int], earliest_year: int = 1900) -> bool:
    """An 18-digit ID (check digit, birth date) or a 15-digit pre-1999 one."""
    if not digits[:2].isdigit() or int(digits[:2]) not in provinces:
        return False
    if len(digits) == 18:
        return _valid_birth_date(digits[6:14], earliest_year) and resident_id_check_digit(digits[:17]) == digits[17]
    if len(digits) == 15:
        return _valid_birth_date("19" + digits[6:12], earliest_year)
    return False
