"""The review pages' shared pager: links to the pages that exist, none on a single page."""

from types import SimpleNamespace

from deescalate.web.auth.pages import templates


def pager_html(page: int, pages: int) -> str:
    urls = {n: f"/review?page={n}" for n in range(1, pages + 1)}
    return templates.get_template("review/_pager.html").render(page=SimpleNamespace(page=page, pages=pages), pager=urls)


def test_a_middle_page_links_both_ways():
    html = pager_html(2, 3)
    assert 'href="/review?page=1" rel="prev"' in html and 'href="/review?page=3" rel="next"' in html
    assert "第 2 / 3 页" in html


def test_the_first_page_has_no_previous_link_and_one_page_no_pager():
    assert 'rel="prev"' not in pager_html(1, 3) and 'rel="next"' in pager_html(1, 3)
    assert pager_html(1, 1).strip() == ""


def test_the_pages_that_include_it_still_compile():
    for name in ("review/cases.html", "review/queue.html"):
        assert templates.get_template(name) is not None
