"""Bounds before the expensive work: MIME parts counted before the stdlib parses them, text and
HTML sizes checked before nh3/lxml/quote folding, linear folding. What exceeds a bound is
quarantined: kept, failed with the reason, visible, downloadable and re-processable."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.tickets.email import ingest
from helpdesk.tickets.email import parse as parse_module
from helpdesk.tickets.email.bounds import MailBounds, OverLimit, count_mime_parts
from helpdesk.tickets.email.display import render_html, split_text_quote
from helpdesk.tickets.email.models import InboundMail, MailStatus
from helpdesk.tickets.models import Message
from tests.conftest import csrf_token, login, make_agent
from tests.email.conftest import SUPPORT, EmailInbox


def many_parts(count: int, *, message_id: str = "<parts@example.com>") -> bytes:
    head = (f"From: Spam <spam@example.com>\r\nTo: {SUPPORT}\r\nSubject: parts\r\nMessage-ID: {message_id}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary=\"b0\"\r\n\r\n").encode()
    part = b"--b0\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return head + part * count + b"--b0--\r\n"


def ingest_raw(app: Flask, raw: bytes, inbox: EmailInbox) -> ingest.Outcome:
    settings = ingest.MailSettings.from_config(app.config)
    return ingest.receive(db_of(app), raw, transport="raw", settings=settings, inbox_id=inbox.id)


def test_the_part_count_is_cheap_and_exact() -> None:
    assert count_mime_parts(b"From: a@b\r\n\r\nplain") == 1
    assert count_mime_parts(many_parts(3)) == 4  # the container and its three parts
    nested = (b"Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n"
              b"Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n--inner\r\n\r\na\r\n"
              b"--inner\r\n\r\nb\r\n--inner--\r\n--outer\r\n\r\nc\r\n--outer--\r\n")
    assert count_mime_parts(nested) == 5


def test_a_50000_part_mail_is_quarantined_before_the_parser_sees_it(app: Flask, inbox: EmailInbox,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    raw = many_parts(50_000)
    assert len(raw) > 1_500_000

    def no_parser(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the stdlib parser ran on a mail over the part limit")

    monkeypatch.setattr(parse_module.email, "message_from_bytes", no_parser)
    outcome = ingest_raw(app, raw, inbox)
    assert outcome.action == "failed" and outcome.reason == "too_many_parts"
    with db_of(app).unit_of_work() as s:
        stored = s.scalar(select(InboundMail))
        assert stored.status is MailStatus.failed and stored.raw == raw
        assert stored.error.startswith("too many MIME parts (50,001 > 2,000)")
        assert "HELPDESK_EMAIL_MAX_PARTS" in stored.error
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_a_quarantined_mail_is_listed_downloadable_and_processes_once_the_limit_is_raised(
        app: Flask, client, inbox: EmailInbox) -> None:
    app.config["EMAIL_MAX_PARTS"] = 100
    raw = many_parts(150)
    outcome = ingest_raw(app, raw, inbox)
    assert outcome.reason == "too_many_parts"
    make_agent(app, "root@example.com", "admin")
    login(client, "root@example.com")
    page = client.get("/admin/mail?status=failed").get_data(as_text=True)
    assert "too many MIME parts (151 &gt; 100)" in page and "Re-process" in page
    assert client.get(f"/admin/mail/{outcome.inbound_id}/raw").data == raw
    token = csrf_token(client, "/admin/mail")
    again = client.post(f"/admin/mail/{outcome.inbound_id}/reprocess", data={"csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)
    assert "Still failing" in again and "HELPDESK_EMAIL_MAX_PARTS" in again
    app.config["EMAIL_MAX_PARTS"] = 500
    client.post(f"/admin/mail/{outcome.inbound_id}/reprocess", data={"csrf_token": token})
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(InboundMail)).status is MailStatus.processed


def html_mail(markup: str) -> bytes:
    return (f"From: Ann <ann@example.com>\r\nTo: {SUPPORT}\r\nSubject: big\r\nMessage-ID: <big@example.com>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n").encode() + markup.encode()


def test_an_html_body_over_its_cap_is_quarantined_before_sanitising(app: Flask, inbox: EmailInbox,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import nh3

    app.config["EMAIL_MAX_HTML_BYTES"] = 10_000
    monkeypatch.setattr(nh3, "clean", lambda *a, **k: pytest.fail("nh3 ran on an HTML body over the cap"))
    outcome = ingest_raw(app, html_mail("<p>" + "word " * 5000 + "</p>"), inbox)
    assert outcome.action == "failed" and outcome.reason == "html_too_large"
    with db_of(app).unit_of_work() as s:
        assert "HTML body too large (25," in s.scalar(select(InboundMail)).error


def test_a_text_body_over_its_cap_is_quarantined(app: Flask, inbox: EmailInbox) -> None:
    app.config["EMAIL_MAX_TEXT_CHARS"] = 1000
    raw = (f"From: ann@example.com\r\nTo: {SUPPORT}\r\nSubject: long\r\n\r\n").encode() + b"y" * 5000
    outcome = ingest_raw(app, raw, inbox)
    assert outcome.reason == "text_too_long"


def test_bounds_raise_a_clear_error_without_a_database() -> None:
    with pytest.raises(OverLimit, match=r"too many MIME parts \(11 > 5\)"):
        parse_module.parse_mail(many_parts(10), MailBounds(max_parts=5))


def growth(small: Callable[[], object], large: Callable[[], object], runs: int = 7) -> tuple[float, float]:
    """Best-of-`runs` CPU times of both (this process's, so other processes on a loaded CI box
    count less than in wall-clock time), measured in turns so that a busy moment hits both sizes
    alike. No absolute limits: only how the time grows."""
    best = [float("inf"), float("inf")]
    for _ in range(runs):
        for index, fn in enumerate((small, large)):
            start = time.process_time()
            fn()
            best[index] = min(best[index], time.process_time() - start)
    return best[0], best[1]


def dated_lines(count: int) -> str:
    return "Hello,\nsee below.\n" + "\n".join("2024-01-01 @:" for _ in range(count))


def test_text_quote_folding_is_linear_in_the_number_of_lines() -> None:
    # The mail: 24,000 lines like "2024-01-01 @:" (each a candidate quote header).
    small, large = dated_lines(6_000), dated_lines(24_000)
    t_small, t_large = growth(lambda: split_text_quote(small), lambda: split_text_quote(large))
    assert t_large <= 6 * t_small + 0.005, (t_small, t_large)  # quadratic would be ~16x


def test_html_quote_folding_is_linear_too() -> None:
    def markup(count: int) -> str:
        return "<div>Hello</div>" + "".join("<div>2024-01-01 @:</div>" for _ in range(count))

    small, large = markup(2_000), markup(8_000)
    t_small, t_large = growth(lambda: render_html(small, {}, load_remote=False),
                              lambda: render_html(large, {}, load_remote=False))
    assert t_large <= 6 * t_small + 0.005, (t_small, t_large)


def test_a_very_long_line_is_never_taken_for_a_quote_header() -> None:
    text = "Reply\n" + "On Monday " + "x" * 200_000 + " wrote:\n> quoted"
    reply, quoted = split_text_quote(text)
    assert quoted == "> quoted" and reply.startswith("Reply")
