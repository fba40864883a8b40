"""Showing mail: nh3 allow-list, remote images blocked until asked, cid images, quote folding
(the talon fixtures, Apache-2.0, copied into tests/data/talon)."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

import pytest
from flask import Flask

from helpdesk.tickets.email.display import render_html, sanitize_html, split_html_quote, split_text_quote
from helpdesk.tickets.email.text import html_to_text
from tests.conftest import login, make_agent
from tests.email.conftest import SUPPORT, EmailInbox, post_raw

TALON = Path(__file__).resolve().parents[1] / "data" / "talon"
HTML_REPLIES = sorted((TALON / "html_replies").glob("*.html"))
STANDARD = sorted((TALON / "standard_replies").glob("*.eml"))


def first_text_part(path: Path) -> str:
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    return next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()


@pytest.mark.parametrize("path", HTML_REPLIES, ids=[p.stem for p in HTML_REPLIES])
def test_talon_html_reply_keeps_only_the_answer(path: Path) -> None:
    reply, quoted = split_html_quote(path.read_text(encoding="utf-8", errors="replace"))
    assert "".join(html_to_text(reply).split()) == "Hi.Iamfine.Thanks,Alex"
    assert quoted  # the history is kept, folded


@pytest.mark.parametrize("path", STANDARD, ids=[p.stem for p in STANDARD])
def test_talon_standard_reply_keeps_only_the_answer(path: Path) -> None:
    expected_file = path.with_name(f"{path.stem}_reply_text")
    expected = expected_file.read_text().strip() if expected_file.exists() else "Hello"
    reply, _quoted = split_text_quote(first_text_part(path))
    assert reply.strip() == expected


def test_talon_quoted_header_block_is_folded() -> None:
    reply, quoted = split_text_quote(first_text_part(TALON / "reply-quotations-share-block.eml"))
    assert reply.strip() and "From" not in reply and "From:" in quoted


@pytest.mark.parametrize("name, expected", [
    ("OLK_SRC_BODY_SECTION.html", "<html><body><div>Reply</div></body></html>"),
    ("reply-separated-by-hr.html", "<html><body><div>Hi<div>there</div></div></body></html>"),
])
def test_talon_outlook_section_and_hr_separated_reply(name: str, expected: str) -> None:
    reply, _quoted = split_html_quote((TALON / name).read_text())
    assert "".join(reply.split()) == expected  # talon's own answer has an empty <head></head> too


def test_scripts_handlers_and_javascript_urls_are_removed() -> None:
    rendered = render_html('<p onclick="x()">Hi<script>alert(1)</script><a href="javascript:alert(1)">x</a>'
                           '<style>body{}</style><iframe src="https://evil"></iframe></p>', {},
                           load_remote=False)
    assert "script" not in rendered.html and "onclick" not in rendered.html
    assert "javascript" not in rendered.html
    assert "iframe" not in rendered.html and "Hi" in rendered.html


def test_the_html_title_is_not_shown_as_the_first_line_of_the_body() -> None:
    markup = "<html><head><title>Newsletter 3</title></head><body><p>Hello Ann</p></body></html>"
    assert "Newsletter" not in sanitize_html(markup) and "Hello Ann" in sanitize_html(markup)
    rendered = render_html(markup, {}, load_remote=False)
    assert "Newsletter" not in rendered.html and "Hello Ann" in rendered.html


def test_remote_images_are_blocked_until_the_agent_asks() -> None:
    markup = '<p>Look <img src="https://tracker.example/pixel.gif?u=ann"></p>'
    blocked = render_html(markup, {}, load_remote=False)
    assert blocked.blocked_images == 1 and not re.search(r'\ssrc="https://tracker', blocked.html)
    assert "tracker.example" not in blocked.html
    loaded = render_html(markup, {}, load_remote=True)
    assert loaded.blocked_images == 0 and 'src="https://tracker.example/pixel.gif?u=ann"' in loaded.html


def test_markup_tricks_cannot_hide_a_remote_image_or_borrow_console_styles() -> None:
    markup = ('<p class="btn primary" id="composer"><img alt=">" src="https://tracker.example/a.gif">'
              '<img alt="x" SRC="https://tracker.example/b.gif"></p>')
    rendered = render_html(markup, {}, load_remote=False)
    assert "tracker.example" not in rendered.html and rendered.blocked_images == 2
    assert "class=" not in rendered.html and "id=" not in rendered.html


def test_inline_cid_images_point_at_their_attachment() -> None:
    rendered = render_html('<p><img src="cid:logo@shop"></p>', {"logo@shop": "/attachments/at_1?inline=1"},
                           load_remote=False)
    assert 'src="/attachments/at_1?inline=1"' in rendered.html and rendered.blocked_images == 0


RED_DOT = ("iVBORw0KGgoAAAANSUhEUgAAADAAAAAgCAIAAADbtmxLAAAAOElEQVR4nO3OQQ0AMAgEMPQgAf8CJmkuOB5NKqD1"
           "pk+p+EBISEgoPRASEhJKD4SEhITSAyEhoWUfS904aihJQjkAAAAASUVORK5CYII=")  # a 48x32 orange PNG


def html_mail() -> bytes:
    return (f"From: Ann <ann@example.com>\r\nTo: {SUPPORT}\r\nSubject: Photo\r\n"
            "Message-ID: <h1@example.com>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n<div>See the broken lid <img src=\"cid:lid@ann\">"
            " and <img src=\"https://tracker.example/p.gif\"></div>"
            "<div class=\"gmail_quote\">On Mon, Bob wrote:<blockquote>old text</blockquote></div>\r\n"
            "--r\r\nContent-Type: image/png\r\nContent-ID: <lid@ann>\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" + RED_DOT + "\r\n--r--\r\n").encode()


def test_the_console_shows_the_mail_with_blocked_images_folded_quote_and_inline_image(
        app: Flask, client, inbox: EmailInbox) -> None:
    conversation_id = post_raw(client, html_mail(), inbox.token).get_json()["conversation_id"]
    make_agent(app, "alice@example.com")
    login(client, "alice@example.com")
    page = client.get(f"/console/c/{conversation_id}").get_data(as_text=True)
    assert "1 remote image blocked" in page and not re.search(r'\ssrc="https://tracker', page)
    assert re.search(r'src="/attachments/at_[\w-]+\?inline=1"', page)
    assert '<details class="email-quoted">' in page and "old text" in page
    loaded = client.get(f"/console/c/{conversation_id}?images=1").get_data(as_text=True)
    assert 'src="https://tracker.example/p.gif"' in loaded
    image = re.search(r'src="(/attachments/at_[\w-]+\?inline=1)"', page).group(1)
    response = client.get(image)
    assert response.headers["Content-Disposition"].startswith("inline;") and response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
