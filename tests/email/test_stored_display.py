"""The console serves the display stored at ingest: opening a mail parses, sanitises and folds
nothing, whatever its size."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from sqlalchemy import delete, select

from helpdesk import db_of
from helpdesk.runtime import runtime_of
from helpdesk.tickets.email import display, ingest, stored
from helpdesk.tickets.email.models import EmailDisplay, InboundMail
from helpdesk.tickets.models import Conversation, Message
from tests.conftest import login, make_agent
from tests.email.conftest import SUPPORT, EmailInbox


def quoted_mail(lines: int) -> bytes:
    body = "Thanks, that helps.\n\nOn Mon, 1 Jan 2024 Ann <ann@example.com> wrote:\n" + "\n".join(
        "2024-01-01 @:" for _ in range(lines))
    return (f"From: Ann <ann@example.com>\r\nTo: {SUPPORT}\r\nSubject: history\r\nMessage-ID: <q@example.com>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode() + body.encode()


def ingest_raw(app: Flask, raw: bytes, inbox: EmailInbox) -> ingest.Outcome:
    settings = ingest.MailSettings.from_config(app.config)
    return ingest.receive(db_of(app), raw, transport="raw", settings=settings, inbox_id=inbox.id)


def forbid_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("mail was rendered inside the web request")

    for name in ("split_text_quote", "split_html_quote", "render_message", "render_html", "render_text",
                 "sanitize_html", "prepare"):
        monkeypatch.setattr(display, name, boom)


def test_opening_the_24000_line_mail_folds_nothing_in_the_request(app: Flask, client, inbox: EmailInbox,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = ingest_raw(app, quoted_mail(24_000), inbox)
    assert outcome.action == "created"
    make_agent(app, "agent@example.com")
    login(client, "agent@example.com")
    forbid_rendering(monkeypatch)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        response = client.get(f"/console/c/{outcome.conversation_id}")
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Thanks, that helps." in page
    assert 'class="email-quoted"' in page and "wrote:" in page  # the folded history, as stored
    # Server time of the page: reading ~400 kB of stored HTML, not folding 24,000 lines (which
    # took seconds). Generous for a loaded CI box; the quadratic fold was ~100x over this.
    assert min(timings) < 1.0, timings


def test_remote_images_come_from_the_stored_variant(app: Flask, client, inbox: EmailInbox,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (f"From: Ann <ann@example.com>\r\nTo: {SUPPORT}\r\nSubject: pics\r\nMessage-ID: <img@example.com>\r\n"
           "Content-Type: text/html; charset=utf-8\r\n\r\n"
           '<p>Look <img src="https://tracker.example/p.png"></p>').encode()
    outcome = ingest_raw(app, raw, inbox)
    make_agent(app, "agent@example.com")
    login(client, "agent@example.com")
    forbid_rendering(monkeypatch)
    blocked = client.get(f"/console/c/{outcome.conversation_id}").get_data(as_text=True)
    assert "tracker.example" not in blocked and "1 remote image blocked" in blocked
    loaded = client.get(f"/console/c/{outcome.conversation_id}?images=1").get_data(as_text=True)
    assert 'src="https://tracker.example/p.png"' in loaded


def test_a_mail_without_a_stored_display_shows_its_text_and_the_backlog_fills_it(
        app: Flask, client, inbox: EmailInbox, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = ingest_raw(app, quoted_mail(10), inbox)
    with db_of(app).unit_of_work() as s:
        s.execute(delete(EmailDisplay))  # as a mail stored before the table existed
    make_agent(app, "agent@example.com")
    login(client, "agent@example.com")
    with monkeypatch.context() as patch:
        forbid_rendering(patch)
        page = client.get(f"/console/c/{outcome.conversation_id}").get_data(as_text=True)
    assert "Thanks, that helps." in page and 'class="email-quoted"' not in page
    with db_of(app).unit_of_work() as s:
        assert [m.public_id for m in stored.missing_displays(s, 100)] == [outcome.message_id]
    runtime = runtime_of(app)
    assert stored.BACKFILL_JOB in runtime.jobs.every  # periodic: the worker runs it by itself
    runtime.jobs.handler(stored.BACKFILL_JOB)(runtime.context(), {})
    page = client.get(f"/console/c/{outcome.conversation_id}").get_data(as_text=True)
    assert 'class="email-quoted"' in page
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=outcome.conversation_id))
        assert s.get(EmailDisplay, s.scalar(select(Message.id).filter_by(conversation_id=conv.id)))
        assert stored.missing_displays(s, 100) == []


def test_gdpr_erasure_removes_the_stored_displays_and_raw_mails_of_the_customer(app: Flask, inbox: EmailInbox) -> None:
    from helpdesk.actors import SYSTEM
    from helpdesk.customers360 import services as customers360

    outcome = ingest_raw(app, quoted_mail(10), inbox)
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=outcome.conversation_id))
        assert s.scalar(select(EmailDisplay))  # stored at ingest
        customers360.erase(s, SYSTEM, conv.customer)
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(EmailDisplay)) is None
        assert s.scalar(select(InboundMail)) is None  # nor the raw mail it came from
        assert s.scalar(select(Message)).body_text == "[erased]"
