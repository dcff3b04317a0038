"""Digits as people say them: the one table of spoken Chinese digits.

Speech-to-text may write a number digit by digit in characters (一三八零…,
幺 for 1 as it is said on the phone). The NLU's normalisation reads such runs
as digits (deescalate/textnorm.py); the privacy masker reads every spoken
digit with this table when it looks for phone and card numbers
(deescalate/privacy.py), so the two never disagree on what a digit is.
"""

import re
from typing import Dict

SPOKEN_DIGITS: Dict[str, str] = {
    "零": "0", "〇": "0", "○": "0", "一": "1", "幺": "1", "二": "2", "三": "3",
    "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
}  # fmt: skip
_AS_DIGITS = str.maketrans(SPOKEN_DIGITS)
_SPOKEN_RUN = re.compile("[" + "".join(SPOKEN_DIGITS) + "]{3,}")
_ONLY_SPOKEN = set("零〇○幺")  # never a count or an idiom: a run holding one is read out digit by digit


def _spelled_number(match: "re.Match[str]") -> str:
    run = match.group(0)
    a_year = len(run) == 4 and match.string[match.end() : match.end() + 1] == "年"
    if len(run) >= 5 or a_year or _ONLY_SPOKEN & set(run):
        return run.translate(_AS_DIGITS)
    return run


def spoken_digits(text: str) -> str:
    """Numbers read out digit by digit, as speech-to-text may write them, in digits.

    A hotline customer who says "打幺二三七八" or "幺幺零" means 12378 and 110;
    a year read as 二零二三 or 一九九八年 is 2023 or 1998. A run counts when
    it has five or more digits (a hotline or phone number), four before 年, or
    three or more with 零, 〇 or 幺: other runs are counts and idioms (七八个,
    七七八八) and stay words.
    """
    return _SPOKEN_RUN.sub(_spelled_number, text)
