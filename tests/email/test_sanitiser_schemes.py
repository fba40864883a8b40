"""Issue 12 finding 14: the email sanitiser keeps only http, https and mailto links (and cid: for
inline images); data:, javascript:, vbscript: and the rest are dropped."""

from __future__ import annotations

import pytest

from helpdesk.tickets.email.display import sanitize_html


@pytest.mark.parametrize("href", [
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", " DATA:text/html,<script>x</script>",
    "javascript:alert(1)", "vbscript:msgbox(1)", "file:///etc/passwd", "cid:part1@mail", "tel:+4930123",
])
def test_links_with_other_schemes_lose_their_target(href: str) -> None:
    cleaned = sanitize_html(f'<p><a href="{href}">click</a></p>')
    assert "href" not in cleaned and "click" in cleaned


@pytest.mark.parametrize("href", ["https://shop.example/o/1", "http://shop.example", "mailto:ann@example.com"])
def test_http_https_and_mailto_links_stay(href: str) -> None:
    assert f'href="{href}"' in sanitize_html(f'<a href="{href}">x</a>')


def test_images_keep_cid_but_not_data_sources() -> None:
    assert 'src="cid:logo@mail"' in sanitize_html('<img src="cid:logo@mail">')
    assert "src" not in sanitize_html('<img src="data:image/svg+xml;base64,PHN2Zz4=">')
