"""Small server-side SVG charts for the review dashboard.

Built with ElementTree, so every label is escaped; colours are presentation
attributes (no style attributes), which the pages' Content-Security-Policy
allows. Each chart carries a <title> and an aria-label; the page also shows
the numbers as a table.
"""

import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Sequence, Tuple

from markupsafe import Markup

EMOTION_COLOURS = {
    "calm": "#43a047",
    "confused": "#1e88e5",
    "anxious": "#fdd835",
    "angry": "#fb8c00",
    "furious": "#e53935",
}
BAR = "#3f6fb5"
GRID = "#d9dde3"
INK = "#1d2330"
MUTED = "#667085"


def _svg(width: int, height: int, title: str) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {width} {height}",
            "width": str(width),
            "height": str(height),
            "role": "img",
            "aria-label": title,
            "class": "chart",
        },
    )
    ET.SubElement(svg, "title").text = title
    return svg


def _text(
    parent: ET.Element, x: float, y: float, text: str, anchor: str = "start", fill: str = INK, size: int = 12
) -> None:
    node = ET.SubElement(
        parent, "text", {"x": f"{x:.1f}", "y": f"{y:.1f}", "text-anchor": anchor, "fill": fill, "font-size": str(size)}
    )
    node.text = text


def _markup(svg: ET.Element) -> Markup:
    return Markup(ET.tostring(svg, encoding="unicode"))


def _nice_max(value: float) -> float:
    """A round axis maximum at or above value (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if value <= step * factor:
            return step * factor
    return step * 10


def hbar_chart(
    items: Sequence[Tuple[str, float]],
    title: str,
    value_label: Optional[Sequence[str]] = None,
    width: int = 560,
    label_width: int = 150,
    maximum: Optional[float] = None,
    colour: str = BAR,
) -> Markup:
    """Horizontal bars, one row per item, the value written after each bar."""
    row, top = 26, 8
    height = top * 2 + row * max(1, len(items))
    svg = _svg(width, height, title)
    if not items:
        _text(svg, width / 2, height / 2 + 4, "暂无数据", "middle", MUTED)
        return _markup(svg)
    scale_max = maximum or _nice_max(max(v for _, v in items))
    plot = width - label_width - 70
    for index, (label, value) in enumerate(items):
        y = top + index * row
        _text(svg, label_width - 8, y + 17, label, "end")
        bar = ET.SubElement(
            svg,
            "rect",
            {
                "x": str(label_width),
                "y": str(y + 4),
                "height": str(row - 8),
                "width": f"{max(1.0, plot * value / scale_max):.1f}",
                "fill": colour,
                "rx": "2",
            },
        )
        ET.SubElement(bar, "title").text = f"{label}：{value_label[index] if value_label else value}"
        _text(
            svg,
            label_width + plot * value / scale_max + 6,
            y + 17,
            value_label[index] if value_label else f"{value:g}",
            fill=MUTED,
        )
    return _markup(svg)


def stacked_columns(
    days: Sequence[str],
    series: Sequence[Tuple[str, str, str]],
    values: Dict[str, Dict[str, int]],
    title: str,
    width: int = 1100,
    height: int = 260,
) -> Markup:
    """One column per day, stacked by series (key, label, colour), with a legend."""
    left, right, top, bottom = 36, 10, 28, 34
    svg = _svg(width, height, title)
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(values.get(day, {}).values()) for day in days]
    scale_max = _nice_max(max(totals, default=0))
    for fraction in (0, 0.5, 1) if scale_max % 2 == 0 else (0, 1):
        y = top + plot_h * (1 - fraction)
        ET.SubElement(
            svg, "line", {"x1": str(left), "x2": str(width - right), "y1": f"{y:.1f}", "y2": f"{y:.1f}", "stroke": GRID}
        )
        _text(svg, left - 6, y + 4, f"{scale_max * fraction:g}", "end", MUTED, 11)
    slot = plot_w / max(1, len(days))
    column = max(2.0, min(28.0, slot * 0.7))
    label_every = max(1, int(len(days) / 10) + (1 if len(days) % 10 else 0))
    for index, day in enumerate(days):
        x = left + slot * index + (slot - column) / 2
        y = top + plot_h
        for key, label, colour in series:
            count = values.get(day, {}).get(key, 0)
            if not count:
                continue
            h = plot_h * count / scale_max
            y -= h
            rect = ET.SubElement(
                svg,
                "rect",
                {"x": f"{x:.1f}", "y": f"{y:.1f}", "width": f"{column:.1f}", "height": f"{h:.1f}", "fill": colour},
            )
            ET.SubElement(rect, "title").text = f"{day} {label}：{count}"
        if index % label_every == 0:
            _text(svg, x + column / 2, top + plot_h + 16, day[5:], "middle", MUTED, 11)
    if not any(totals):
        _text(svg, left + plot_w / 2, top + plot_h / 2, "暂无数据", "middle", MUTED)
    x = left
    for _key, label, colour in series:
        ET.SubElement(svg, "rect", {"x": f"{x:.1f}", "y": "8", "width": "12", "height": "12", "fill": colour})
        _text(svg, x + 16, 18, label, size=12)
        x += 22 + 13 * len(label) + 12
    return _markup(svg)


def rate_gauge(rate: Optional[float], title: str, detail: str, colour: str = BAR) -> Markup:
    """A ring showing a share, the percentage in the middle and a line of detail under it."""
    size, radius, stroke = 180, 62, 16
    svg = _svg(size, size + 24, title)
    centre = size / 2

    def ring(colour: str, **extra: str) -> None:
        attributes = {"cx": str(centre), "cy": str(centre), "r": str(radius), "fill": "none"}
        ET.SubElement(svg, "circle", {**attributes, "stroke": colour, "stroke-width": str(stroke), **extra})

    ring(GRID)
    if rate is not None:
        circumference = 2 * 3.141592653589793 * radius
        ring(
            colour,
            **{
                "stroke-dasharray": f"{circumference * rate:.2f} {circumference:.2f}",
                "transform": f"rotate(-90 {centre} {centre})",
            },
        )
    _text(svg, centre, centre + 8, "—" if rate is None else f"{rate * 100:.0f}%", "middle", INK, 24)
    _text(svg, centre, size + 14, detail, "middle", MUTED, 12)
    return _markup(svg)


def emotion_series(labels: Dict[str, str]) -> List[Tuple[str, str, str]]:
    return [(name, labels.get(name, name), colour) for name, colour in EMOTION_COLOURS.items()]


CALMER, WORSE = "#43a047", "#e53935"


def interval_chart(
    items: Sequence[Tuple[str, float, Optional[float], Optional[float], str]],
    title: str,
    width: int = 640,
    label_width: int = 220,
) -> Markup:
    """Bars from zero to a mean, with the confidence interval as a whisker: one row per (label, mean, low, high, detail).

    The axis is symmetric around zero; a negative mean (calmer) is drawn green, a positive one red.
    """
    row, top, axis = 26, 8, 18
    height = top * 2 + axis + row * max(1, len(items))
    svg = _svg(width, height, title)
    if not items:
        _text(svg, width / 2, height / 2 + 4, "暂无数据", "middle", MUTED)
        return _markup(svg)
    reach = _nice_max(max(abs(v) for _, mean, low, high, _ in items for v in (mean, low, high) if v is not None))
    plot = width - label_width - 20
    zero = label_width + plot / 2

    def x(value: float) -> float:
        return zero + (plot / 2) * max(-1.0, min(1.0, value / reach))

    bottom = top + row * len(items)
    ET.SubElement(
        svg, "line", {"x1": f"{zero:.1f}", "x2": f"{zero:.1f}", "y1": str(top), "y2": str(bottom), "stroke": INK}
    )
    for value, anchor in ((-reach, "start"), (0.0, "middle"), (reach, "end")):
        _text(svg, x(value), bottom + 14, f"{value:+g}" if value else "0", anchor, MUTED, 11)
    for index, (label, mean, low, high, detail) in enumerate(items):
        y = top + index * row
        _text(svg, label_width - 8, y + 17, label if len(label) <= 16 else label[:15] + "…", "end")
        start, end = sorted((zero, x(mean)))
        bar = ET.SubElement(
            svg,
            "rect",
            {
                "x": f"{start:.1f}",
                "y": str(y + 6),
                "height": str(row - 12),
                "width": f"{max(1.0, end - start):.1f}",
                "fill": CALMER if mean < 0 else WORSE,
                "rx": "2",
            },
        )
        ET.SubElement(bar, "title").text = f"{label}：{detail}"
        if low is not None and high is not None:
            middle = y + row / 2
            ET.SubElement(
                svg,
                "line",
                {
                    "x1": f"{x(low):.1f}",
                    "x2": f"{x(high):.1f}",
                    "y1": f"{middle:.1f}",
                    "y2": f"{middle:.1f}",
                    "stroke": INK,
                },
            )
            for end_x in (x(low), x(high)):
                ET.SubElement(
                    svg,
                    "line",
                    {
                        "x1": f"{end_x:.1f}",
                        "x2": f"{end_x:.1f}",
                        "y1": str(y + 8),
                        "y2": str(y + row - 8),
                        "stroke": INK,
                    },
                )
    return _markup(svg)
