"""Fills a knowledge-base line's template variables from the case."""

from typing import Dict, Optional

ORDINALS = "一二三四"  # how options are numbered to the customer: 第一种, 第二种, ...


def format_amount(amount: Optional[float]) -> Optional[str]:
    """20000 -> '2万元', 2500 -> '2500元', 15000 -> '1.5万元'."""
    if amount is None:
        return None
    if amount >= 10000:
        return f"{amount / 10000:g}万元"
    return f"{int(amount)}元"


class TemplateValues(dict):
    """Template values with everyday fallbacks for whatever is not known yet."""

    # Only labels fall back: a line that names a case fact ({amount}, {station})
    # is offered only once the fact is known, so no filler word breaks the Chinese.
    FALLBACKS: Dict[str, str] = {
        "cause_label": "这件事",
        "domain_label": "我们",
        "approver": "上级",
        "emotion_label": "着急",
    }

    def __missing__(self, key: str) -> str:
        return self.FALLBACKS.get(key, "")


def render(text: str, values: TemplateValues) -> str:
    return text.format_map(values)
