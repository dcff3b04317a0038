"""Every page template parses, and a page's title block holds only its title."""

from pathlib import Path

import pytest
from jinja2 import nodes

from deescalate.web.auth import templates

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "deescalate" / "web" / "templates"
PAGES = sorted(str(p.relative_to(TEMPLATE_DIR)) for p in TEMPLATE_DIR.rglob("*.html"))


def title_blocks(name: str) -> list:
    source = (TEMPLATE_DIR / name).read_text(encoding="utf-8")
    return [block for block in templates.parse(source).find_all(nodes.Block) if block.name == "title"]


@pytest.mark.parametrize("name", PAGES)
def test_a_page_title_is_plain_text(name: str):
    for block in title_blocks(name):
        text = "".join(data.data for data in block.find_all(nodes.TemplateData))
        assert "<" not in text and "\n" not in text.strip(), f"{name}: title block {text[:60]!r}"


def test_the_check_sees_every_page_that_names_a_title():
    assert len(PAGES) > 10
    assert sum(bool(title_blocks(name)) for name in PAGES) >= 10
