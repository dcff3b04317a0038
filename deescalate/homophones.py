"""Sound-alike slips in the names of regulators, read as the names.

Speech-to-text knows 银保监 or 消保委 less well than everyday words and may
write a character that sounds the same: 银保间, 保监惠, 消保为. A pinyin
input method makes the same slips in typed text. A customer who says "我要去
银保间投诉" threatens the regulator all the same, so the NLU's normalisation
(deescalate/textnorm.py) writes the name back before anything reads the text.

The slips come from `homophones.yml` beside this module: for each name, the
common characters that sound like each of its characters. A name with one
character swapped for its sound-alike is read as the name; two slips are not,
and a swap that makes an everyday word with its neighbour inside the name
(保健 in 保健会) was left out when the table was made. The table is made by
`make homophones` (deescalate/tools/homophones.py) from the escalation wordings
of data/nlu/lexicon.yml; the product only reads it. Each slip is exactly as
long as the name, so character offsets stay intact.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

TABLE_FILE = Path(__file__).with_name("homophones.yml")


def slips_of(name: str, sound_alikes: List[str]) -> List[str]:
    """Every spelling of `name` with one character swapped for one of its sound-alikes."""
    return [name[:i] + char + name[i + 1 :] for i, chars in enumerate(sound_alikes) for char in chars]


def read_table(path: Path = TABLE_FILE) -> Dict[str, Any]:
    table = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(table.get("names"), dict):
        raise ValueError(f"{path}: `names` must map each name to its characters' sound-alikes")
    return table


@lru_cache(maxsize=1)
def _slips() -> Tuple[Dict[str, str], Tuple[int, ...]]:
    """slip -> name, and the slips' lengths, longest first."""
    slips: Dict[str, str] = {}
    for name, sound_alikes in read_table()["names"].items():
        if len(sound_alikes) != len(name):
            raise ValueError(f"{TABLE_FILE}: {name} needs one entry of sound-alikes per character")
        for slip in slips_of(name, sound_alikes):
            slips.setdefault(slip, name)
    return slips, tuple(sorted({len(s) for s in slips}, reverse=True))


def fix_sound_alikes(text: str) -> str:
    """`text` with every sound-alike slip of a regulator's name written as the name.

    Longer names are read first (金融检管局 is 金融监管局, not 金融 + 监管局),
    and a character belongs to one name at most.
    """
    slips, lengths = _slips()
    if not slips or not text:
        return text
    chars = list(text)
    taken = [False] * len(text)
    for length in lengths:
        for start in range(len(text) - length + 1):
            name = slips.get(text[start : start + length])
            if name is not None and not any(taken[start : start + length]):
                chars[start : start + length] = name
                taken[start : start + length] = [True] * length
    return "".join(chars)
