"""Money amounts in Chinese text, normalised to yuan with cn2an.

Customers say 两万块, 5千, 1万2, 一百二十万, 3000元, 1.5w. `find_amounts`
finds such spans by pattern; `parse_amount` turns any span (also one DIET
found) into a whole number of yuan. A number counts as money with a money unit
(元, 块), a magnitude (千, 万, 亿, k, w) or a money word just before it
(扣了四百八, 欠你们六百五, 一笔3500), and no counting word after it; a number
inside an id is not money, nor is a lone Chinese digit (the 一 of 一共, 一半,
一直). So 12378, 2号线, P2020000456, 三个工作日 and 金额一共 are not amounts.
"""

import re
from typing import Any, Dict, List, Optional

import cn2an
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from deescalate.nlu.base import StatelessComponent

_CN_DIGITS = "零〇一二两三四五六七八九"
_NUM = rf"(?:\d+(?:,\d{{3}})*(?:\.\d+)?|[{_CN_DIGITS}十百千万亿]+(?:点[{_CN_DIGITS}]+)?)"
_MAGNITUDE = r"[十百千万亿wWkK]"
_UNIT = r"(?:块钱|块|元|圆|rmb|RMB)"
AMOUNT_PATTERN = re.compile(rf"(?P<num>{_NUM}(?:{_MAGNITUDE}+{_NUM}?)*)(?P<approx>多|余|来)?(?P<unit>{_UNIT})?")
_COUNTING_WORDS = re.compile(
    r"^(个|分钟|天|次|号|年|月|日|岁|人|站|小时|趟|遍|张|条|家|周|公里|米|秒|层|路|线|期|份|位|多天|多个|多次|多年|多人)"
)
_BIG_MAGNITUDES = set("千万亿wWkK")
# A bare number (四百八, 200) is money when a money word comes just before it.
_MONEY_BEFORE = re.compile(
    r"(扣|收|欠|赔|退|交|付|花|罚|补|亏|赚|转|取|存|还|借|吞|吐|少|多|费|价|额|金|钱|要|笔)"
    r"[了我你他她们掉走回出进给共都总照还才就]{0,3}$"
)
_LONE_CHINESE_DIGIT = re.compile(rf"^[{_CN_DIGITS}]$")
_INSIDE_ID = re.compile(r"[A-Za-z0-9]")
_TRAILING_DIGIT = re.compile(rf"([万千百])([{_CN_DIGITS[1:]}1-9])$")
_NEXT_LOWER = {"万": "千", "千": "百", "百": "十"}


def parse_amount(text: str) -> Optional[int]:
    """Return the yuan value of an amount span, or None when it is not a number."""
    core = re.sub(rf"{_UNIT}|多|余|来|左右|大概|差不多|将近|\s", "", text)
    core = core.replace(",", "").replace("w", "万").replace("W", "万")
    core = core.replace("k", "千").replace("K", "千")
    # 1万2 means 12000 and 两千五 means 2500 in everyday speech.
    core = _TRAILING_DIGIT.sub(lambda m: m.group(1) + m.group(2) + _NEXT_LOWER[m.group(1)], core)
    if not core:
        return None
    try:
        value = cn2an.cn2an(core, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return int(round(value)) if value > 0 else None


def find_amounts(text: str) -> List[Dict[str, Any]]:
    """Money amounts in `text` as Rasa entity dicts (value in yuan)."""
    found = []
    for match in AMOUNT_PATTERN.finditer(text):
        number = match.group("num")
        has_unit = bool(match.group("unit"))
        has_magnitude = any(char in _BIG_MAGNITUDES for char in number)
        money_before = bool(_MONEY_BEFORE.search(text[max(0, match.start() - 4) : match.start()]))
        if not (has_unit or has_magnitude or money_before):
            continue
        if not has_unit and _LONE_CHINESE_DIGIT.match(number):
            continue
        if _inside_id(text, {"start": match.start(), "end": match.end()}):
            continue
        if not has_unit and _COUNTING_WORDS.match(text[match.end() :]):
            continue
        value = parse_amount(match.group(0))
        if value is None:
            continue
        found.append(
            {"entity": "amount", "start": match.start(), "end": match.end(), "value": value, "text": match.group(0)}
        )
    return found


def _inside_id(text: str, entity: Dict[str, Any]) -> bool:
    """A span cut out of a longer run of letters and digits (a policy or card number)."""
    before = text[entity["start"] - 1 : entity["start"]] if entity["start"] > 0 else ""
    after = text[entity["end"] : entity["end"] + 1]
    return bool((before and _INSIDE_ID.match(before)) or (after and _INSIDE_ID.match(after)))


def _overlaps(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class AmountExtractor(StatelessComponent, EntityExtractorMixin):
    """Finds money amounts and gives every `amount` entity its value in yuan.

    Runs after DIET: amounts found by pattern replace DIET's overlapping
    spans; DIET's remaining spans keep their place with a parsed value, and
    are dropped when they do not parse as a number.
    """

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            found = self.add_extractor_name(find_amounts(text))
            for entity in found:
                entity.pop("text", None)
            kept = []
            for entity in message.get(ENTITIES, []):
                if entity.get("entity") != "amount":
                    kept.append(entity)
                    continue
                if any(_overlaps(entity, other) for other in found) or _inside_id(text, entity):
                    continue
                value = parse_amount(text[entity["start"] : entity["end"]])
                if value is not None:
                    kept.append({**entity, "value": value})
            message.set(ENTITIES, kept + found, add_to_output=True)
        return messages
