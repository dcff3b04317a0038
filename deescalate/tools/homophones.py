"""Make the sound-alike table that deescalate/homophones.py reads.

    python -m deescalate.tools.homophones           # rewrite deescalate/homophones.yml
    python -m deescalate.tools.homophones --check   # exit 1 when the table is out of date

The names are the escalation wordings in data/nlu/lexicon.yml whose value is
listed under `values` in the table (regulators, consumer bodies), written in
at least `min_chars` Chinese characters: short, everyday words (媒体, 报警)
are left alone, since a one-character slip of them is too often another
word. For each character of a name the table lists the common characters
(GB2312 level 1) that pypinyin reads with the same syllable, tones ignored,
as a recogniser hears them. A sound-alike that makes a word of jieba's
dictionary with its neighbours inside the name (保健 in 保健会, a health-products
sales meeting) is left out, so that an everyday phrase is never read as a
threat. pypinyin is needed here only; the product reads the YAML.
"""

import argparse
import re
import sys
from pathlib import Path
from typing import Callable, Dict, Iterable, List

import yaml

from deescalate.homophones import TABLE_FILE, read_table
from deescalate.nlu.lexicon import load_lexicon
from deescalate.tools.build import LEXICON

_CHINESE = re.compile(r"[\u4e00-\u9fff]+")
_WORD_SPAN = 4  # the longest everyday word looked for around a swapped character


def lexicon_names(values: Iterable[str], min_chars: int, lexicon: Path = LEXICON) -> List[str]:
    """The escalation wordings of `values` that are Chinese words of at least `min_chars`."""
    wanted = set(values)
    names: List[str] = []
    for value, wordings in load_lexicon(lexicon).escalation.items():
        if value not in wanted:
            continue
        for name in wordings:
            if len(name) >= min_chars and _CHINESE.fullmatch(name) and name not in names:
                names.append(name)
    return names


def _common(char: str) -> bool:
    """A character of GB2312's first level: the 3,755 in everyday use."""
    try:
        encoded = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(encoded) == 2 and 0xB0 <= encoded[0] <= 0xD7


def syllable_index() -> Dict[str, List[str]]:
    """Toneless syllable -> the common characters whose usual reading it is."""
    from pypinyin import Style, pinyin
    from pypinyin.pinyin_dict import pinyin_dict

    index: Dict[str, List[str]] = {}
    for code in sorted(pinyin_dict):
        char = chr(code)
        if _common(char):
            index.setdefault(pinyin(char, style=Style.NORMAL)[0][0], []).append(char)
    return index


def _makes_a_word(spelling: str, swapped: int, is_word: Callable[[str], bool]) -> bool:
    for start in range(max(0, swapped - _WORD_SPAN + 1), swapped + 1):
        for end in range(swapped + 1, min(len(spelling), start + _WORD_SPAN) + 1):
            if end - start >= 2 and is_word(spelling[start:end]):
                return True
    return False


class WordTest:
    """Is a string a word of jieba's dictionary?"""

    def __init__(self) -> None:
        import jieba

        jieba.setLogLevel(60)
        jieba.initialize()
        self._frequencies = jieba.dt.FREQ

    def __call__(self, text: str) -> bool:
        return bool(self._frequencies.get(text))


def sound_alikes(name: str, index: Dict[str, List[str]], is_word: Callable[[str], bool]) -> List[str]:
    """Per character of `name`: its sound-alikes, as one string."""
    from pypinyin import lazy_pinyin

    per_char = []
    for i, (char, syllable) in enumerate(zip(name, lazy_pinyin(name))):
        kept = [
            other
            for other in index.get(syllable, [])
            if other != char and not _makes_a_word(name[:i] + other + name[i + 1 :], i, is_word)
        ]
        per_char.append("".join(kept))
    return per_char


def made_table(settings: Dict) -> Dict:
    index, is_word = syllable_index(), WordTest()
    names = lexicon_names(settings["values"], int(settings["min_chars"]))
    return {
        "values": list(settings["values"]),
        "min_chars": int(settings["min_chars"]),
        "names": {name: sound_alikes(name, index, is_word) for name in names},
    }


_HEADER = """\
# Sound-alike slips of regulators' names (deescalate/homophones.py reads them).
# Made by `make homophones` from the escalation wordings of data/nlu/lexicon.yml
# whose value is in `values` and that have at least `min_chars` characters.
# Edit `values` or `min_chars` (or the lexicon) and run `make homophones`;
# `names` is written by the tool: per name, one string of sound-alikes per character.
"""


def write_table(table: Dict, path: Path = TABLE_FILE) -> None:
    body = yaml.safe_dump(table, allow_unicode=True, sort_keys=False, width=200)
    path.write_text(_HEADER + body, encoding="utf-8")


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether the table is up to date")
    args = parser.parse_args(argv)
    current = read_table()
    table = made_table(current)
    if args.check:
        if table != current:
            print(f"{TABLE_FILE} is out of date: run `make homophones`")
            return 1
        print(f"{TABLE_FILE} is up to date ({len(table['names'])} names)")
        return 0
    write_table(table)
    print(f"wrote {TABLE_FILE}: {len(table['names'])} names")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
