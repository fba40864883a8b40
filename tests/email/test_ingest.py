"""The one ingestion path through POST /inbound/email/raw: raw kept first, idempotent, bad input."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.tickets.email.models import InboundMail, MailStatus
from helpdesk.tickets.models import Attachment, AuthorType, Conversation, Message
from tests.conftest import login, make_agent
from tests.email.conftest import SUPPORT, EmailInbox, mail, post_raw


def count(app: Flask, model: type) -> int:
    with db_of(app).unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_new_mail_opens_a_conversation_and_keeps_the_raw_bytes(app: Flask, client, inbox: EmailInbox) -> None:
    raw = mail()
    response = post_raw(client, raw, inbox.token)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["action"] == "created"
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=body["conversation_id"]))
        assert conv.subject == "Where is my order?" and conv.channel.value == "email"
        assert conv.customer.email == "ann@example.com" and conv.customer.name == "Ann Buyer"
        message = conv.messages[0]
        assert message.body_text == "Hello, where is it?"
        assert message.email_message_id == "m1@example.com"
        assert message.meta["threaded_by"] == "new"
        stored = s.scalar(select(InboundMail))
        assert stored.raw == raw and stored.status is MailStatus.processed and stored.transport == "raw"


def test_the_same_message_id_twice_is_ingested_once(app: Flask, client, inbox: EmailInbox) -> None:
    assert post_raw(client, mail(), inbox.token).get_json()["action"] == "created"
    again = post_raw(client, mail(), inbox.token).get_json()
    assert again["action"] == "ignored" and again["reason"] == "duplicate"
    assert count(app, Message) == 1 and count(app, Conversation) == 1


def test_mail_without_message_id_is_still_deduplicated_by_its_bytes(app: Flask, client,
                                                                    inbox: EmailInbox) -> None:
    raw = mail(message_id=None)
    assert post_raw(client, raw, inbox.token).get_json()["action"] == "created"
    assert post_raw(client, raw, inbox.token).get_json()["reason"] == "duplicate"
    assert count(app, Message) == 1


def test_bad_ingest_token_is_401_and_stores_nothing(app: Flask, client, inbox: EmailInbox) -> None:
    response = post_raw(client, mail(), "ing_wrong")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_ingest_token"
    assert count(app, InboundMail) == 0 and count(app, Message) == 0


def test_malformed_mime_is_kept_and_a_mail_that_fails_is_visible_and_reprocessable(
        app: Flask, client, inbox: EmailInbox) -> None:
    # No sender at all and a broken multipart: cannot become a message, must not be lost.
    raw = (b"To: support@shop.example\r\nSubject: broken\r\n"
           b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
           b"--zz\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\n\xff\xfe half a part")
    response = post_raw(client, raw, inbox.token)
    assert response.status_code == 202 and response.get_json()["action"] == "failed"
    with db_of(app).unit_of_work() as s:
        stored = s.scalar(select(InboundMail))
        assert stored.status is MailStatus.failed and stored.raw == raw
        assert "sender" in stored.error
    make_agent(app, "root@example.com", "admin")
    login(client, "root@example.com")
    page = client.get("/admin/mail?status=failed").get_data(as_text=True)
    assert "broken" in page and "Re-process" in page
    assert client.get(f"/admin/mail/{stored.public_id}/raw").data == raw


def test_a_failed_mail_processes_after_the_cause_is_fixed(app: Flask, client, inbox: EmailInbox) -> None:
    # Sent to an address no inbox owns, through the token-less SMTP-like path: fails, then an
    # admin adds the address and re-processes it.
    from helpdesk.tickets.email import ingest

    settings = ingest.MailSettings.from_config(app.config)
    outcome = ingest.receive(db_of(app), mail(to="sales@shop.example"), transport="smtp", settings=settings)
    assert outcome.action == "failed"
    from helpdesk.tickets.models import InboxAddress

    with db_of(app).unit_of_work() as s:
        s.add(InboxAddress(inbox_id=inbox.id, address="sales@shop.example"))
    make_agent(app, "root@example.com", "admin")
    login(client, "root@example.com")
    from tests.conftest import csrf_token

    token = csrf_token(client, "/admin/mail")
    response = client.post(f"/admin/mail/{outcome.inbound_id}/reprocess", data={"csrf_token": token})
    assert response.status_code == 303
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(InboundMail)).status is MailStatus.processed
    assert count(app, Conversation) == 1


def test_a_40_mb_mail_is_refused_clearly_and_its_raw_bytes_are_kept(app: Flask, client,
                                                                    inbox: EmailInbox) -> None:
    raw = mail(body="x" * (40 * 1024 * 1024))
    response = post_raw(client, raw, inbox.token)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "mail_too_large"
    with db_of(app).unit_of_work() as s:
        stored = s.scalar(select(InboundMail))
        assert stored.status is MailStatus.rejected and stored.reason == "too_large"
        assert stored.size == len(raw)
    assert count(app, Message) == 0


def test_a_100k_character_header_is_cut_not_fatal(app: Flask, client, inbox: EmailInbox) -> None:
    response = post_raw(client, mail(subject="A" * 100_000, headers={"X-Junk": "b" * 100_000}), inbox.token)
    assert response.status_code == 202 and response.get_json()["action"] == "created"
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation))
        assert len(conv.subject) <= 255


def test_a_spoofed_agent_from_stays_a_customer_message_with_a_warning(app: Flask, client,
                                                                       inbox: EmailInbox) -> None:
    agent = make_agent(app, "alice@example.com", "agent", "Alice Agent")
    body = post_raw(client, mail(sender=f"Alice Agent <{agent.email}>"), inbox.token).get_json()
    with db_of(app).unit_of_work() as s:
        message = s.scalar(select(Message).filter_by(public_id=body["message_id"]))
        assert message.author_type is AuthorType.customer
        assert message.meta["warning"] == "sender_is_agent_address"
    login(client, agent.email)
    page = client.get(f"/console/c/{body['conversation_id']}").get_data(as_text=True)
    assert "claims to come from an agent" in page
    original = client.get(f"/console/m/{body['message_id']}/original")
    assert original.status_code == 200 and b"From: Alice Agent <alice@example.com>" in original.data


def test_attachments_download_with_safe_headers_for_agents_only(app: Flask, client,
                                                                inbox: EmailInbox) -> None:
    raw = (f"From: ann@example.com\r\nTo: {SUPPORT}\r\nSubject: file\r\nMessage-ID: <f1@example.com>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
           "Content-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\nContent-Type: text/html; name=x.html\r\n"
           "Content-Disposition: attachment; filename=x.html\r\n\r\n<script>alert(1)</script>\r\n"
           "--b1--\r\n").encode()
    post_raw(client, raw, inbox.token)
    with db_of(app).unit_of_work() as s:
        att = s.scalar(select(Attachment))
        public_id = att.public_id
    assert client.get(f"/attachments/{public_id}").status_code in (302, 401)
    make_agent(app, "alice@example.com")
    login(client, "alice@example.com")
    response = client.get(f"/attachments/{public_id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "application/octet-stream"
    assert b"<script>" in response.data
    assert client.get("/attachments/at_nope").status_code == 404


def test_nul_bytes_and_unknown_charsets_still_make_a_readable_message(app: Flask, client,
                                                                      inbox: EmailInbox) -> None:
    raw = (f"From: ann@example.com\r\nTo: {SUPPORT}\r\nSubject: =?x-unknown-cs?Q?caf=E9?=\r\n"
           "Message-ID: <nul@example.com>\r\nContent-Type: text/plain; charset=x-unknown-cs\r\n\r\n"
           "caf\xe9 \x00 ok\r\n").encode("latin-1")
    body = post_raw(client, raw, inbox.token).get_json()
    assert body["action"] == "created"
    with db_of(app).unit_of_work() as s:
        message = s.scalar(select(Message))
        assert "\x00" not in message.body_text and message.body_text.startswith("caf")
        assert message.conversation.subject.startswith("caf")


def test_admin_saves_an_imap_account_without_echoing_the_password(app: Flask, client,
                                                                  inbox: EmailInbox) -> None:
    from helpdesk.jobs import Job
    from helpdesk.tickets.models import Inbox
    from tests.conftest import csrf_token

    make_agent(app, "root@example.com", "admin")
    login(client, "root@example.com")
    token = csrf_token(client, "/admin/mail")
    form = {"csrf_token": token, "imap_host": "imap.shop.example", "imap_port": "993", "imap_tls": "ssl",
            "imap_user": SUPPORT, "imap_password": "s3cret-pw", "imap_folder": "INBOX", "acknowledge": "1"}
    assert client.post(f"/admin/mail/inbox/{inbox.public_id}", data=form).status_code == 303
    with db_of(app).unit_of_work() as s:
        settings = s.get(Inbox, inbox.id).settings
        assert settings["imap"]["host"] == "imap.shop.example" and settings["acknowledge"] is True
        assert s.scalar(select(Job).filter_by(kind="email.imap_poll")) is not None
    page = client.get("/admin/mail").get_data(as_text=True)
    assert "s3cret-pw" not in page and "(unchanged)" in page
    bad = {**form, "imap_host": "bad host; rm -rf", "csrf_token": token}
    client.post(f"/admin/mail/inbox/{inbox.public_id}", data=bad)
    with db_of(app).unit_of_work() as s:
        assert s.get(Inbox, inbox.id).settings["imap"]["host"] == "imap.shop.example"


def test_a_request_far_over_the_limit_is_refused_before_it_is_read(app_config) -> None:
    from helpdesk import create_app
    from tests.factories import make_inbox

    app = create_app({**app_config, "EMAIL_MAX_BYTES": 1000})
    try:
        _inbox, token = make_inbox(app, name="Support mail", channel="email", address=SUPPORT)
        response = post_raw(app.test_client(), mail(body="z" * (4 * 1024 * 1024)), token)
        assert response.status_code == 413
        assert response.get_json()["error"]["code"] == "too_large"
        assert count(app, InboundMail) == 0
    finally:
        db_of(app).dispose()


def test_concurrent_deliveries_of_one_mail_store_one_message(app: Flask, inbox: EmailInbox) -> None:
    """Two transports deliver the same mail at the same moment (an IMAP re-fetch racing a webhook
    retry): the unique Message-ID lets one win; the other ends as a duplicate, not a failure."""
    import threading

    from helpdesk.tickets.email import ingest

    settings = ingest.MailSettings.from_config(app.config)
    raw = mail(sender="new.person@example.com")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait(timeout=10)
        outcomes.append(ingest.receive(db_of(app), raw, transport="raw", settings=settings,
                                       inbox_id=inbox.id).action)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["created", "ignored", "ignored", "ignored"]
    assert count(app, Message) == 1 and count(app, InboundMail) == 4
