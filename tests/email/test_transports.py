"""Every transport feeds the same path: webhooks (raw, Mailgun, SendGrid, Postmark), the SMTP
server (`helpdesk mail smtpd`, aiosmtpd) and IMAP (`helpdesk mail fetch`, the worker's polls)."""

from __future__ import annotations

import hashlib
import hmac
import os
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.jobs import Job
from helpdesk.tickets.email import TRANSPORTS, ingest, transport
from helpdesk.tickets.email.imap import ImapFetcher, schedule_poll
from helpdesk.tickets.email.models import ImapCursor, InboundMail
from helpdesk.tickets.models import Conversation, Inbox, Message
from tests.conftest import ROOT
from tests.email.conftest import SUPPORT, EmailInbox, Imap, mail, run_jobs
from tests.servers import free_port, port_open, wait_until


def count(app: Flask, model: type) -> int:
    with db_of(app).unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_every_transport_is_registered() -> None:
    assert set(TRANSPORTS) == {"raw", "mailgun", "sendgrid", "postmark", "smtp", "imap"}
    assert all(transport(name) for name in TRANSPORTS)


def mailgun_form(raw: bytes, key: str = "mailgun-key", timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    token = "tok" + ts
    signature = hmac.new(key.encode(), f"{ts}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": ts, "token": token, "signature": signature, "recipient": SUPPORT,
            "body-mime": raw.decode()}


def test_mailgun_with_a_valid_signature_is_ingested(app: Flask, client, inbox: EmailInbox) -> None:
    response = client.post("/inbound/email/mailgun", data=mailgun_form(mail()))
    assert response.status_code == 202 and response.get_json()["action"] == "created"


@pytest.mark.parametrize("form", [
    lambda: mailgun_form(mail(), key="not-the-key"),
    lambda: mailgun_form(mail(), timestamp=int(time.time()) - 3600),
    lambda: {**mailgun_form(mail()), "signature": ""},
], ids=["wrong-key", "stale", "missing"])
def test_mailgun_with_a_bad_signature_is_401_and_stores_nothing(app: Flask, client, inbox: EmailInbox,
                                                                form) -> None:
    response = client.post("/inbound/email/mailgun", data=form())
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] in ("bad_signature", "stale_signature")
    assert count(app, InboundMail) == 0 and count(app, Message) == 0


def test_sendgrid_raw_email_field_with_the_ingest_token_as_basic_password(app: Flask, client,
                                                                           inbox: EmailInbox) -> None:
    import base64

    auth = base64.b64encode(f"sendgrid:{inbox.token}".encode()).decode()
    response = client.post("/inbound/email/sendgrid", data={"email": mail().decode(), "to": SUPPORT},
                           headers={"Authorization": f"Basic {auth}"})
    assert response.status_code == 202 and response.get_json()["action"] == "created"
    assert client.post("/inbound/email/sendgrid", data={"email": mail().decode()}).status_code == 401


def test_postmark_raw_email_json(app: Flask, client, inbox: EmailInbox) -> None:
    response = client.post("/inbound/email/postmark", json={"RawEmail": mail().decode(), "From": "x"},
                           headers={"Authorization": f"Bearer {inbox.token}"})
    assert response.status_code == 202 and response.get_json()["action"] == "created"
    missing = client.post("/inbound/email/postmark", json={"From": "x"},
                          headers={"Authorization": f"Bearer {inbox.token}"})
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "empty_mail"


# -- SMTP ---------------------------------------------------------------------------------------

def helpdesk_env(app: Flask, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HELPDESK_DATABASE_URL": app.config["DATABASE_URL"],
            "HELPDESK_SECRET_KEY": "test-secret-key",
            "HELPDESK_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT),
            "HELPDESK_EMAIL_DOMAIN": "helpdesk.test", "HELPDESK_IMAP_ALLOW_LOOPBACK": "1"}


def test_helpdesk_mail_smtpd_accepts_mail_for_inbox_addresses_only(app: Flask, inbox: EmailInbox,
                                                                    tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "smtpd.log").open("wb")
    command = [sys.executable, "-m", "helpdesk", "mail", "smtpd", "--listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(command, env=helpdesk_env(app, tmp_path), cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_open(port) or proc.poll() is not None, timeout=30, message="smtpd to listen")
        assert proc.poll() is None, (tmp_path / "smtpd.log").read_text()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client, \
                pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("ann@example.com", ["nobody@shop.example"], mail(message_id="<n1@x>"))
        assert refused.value.recipients["nobody@shop.example"][0] == 550
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            assert client.sendmail("ann@example.com", [SUPPORT], mail()) == {}
        wait_until(lambda: count(app, Conversation) == 1, timeout=10, message="the conversation")
        with db_of(app).unit_of_work() as s:
            assert s.scalar(select(InboundMail)).transport == "smtp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_smtpd_refuses_an_oversize_mail_with_552_and_keeps_it(app_config, tmp_path: Path) -> None:
    from helpdesk import create_app
    from helpdesk.tickets.email.smtpd import InboundSMTP

    app = create_app({**app_config, "EMAIL_MAX_BYTES": 1000})
    from tests.factories import make_inbox

    make_inbox(app, name="Support mail", channel="email", address=SUPPORT)
    handler = InboundSMTP(db_of(app), ingest.MailSettings.from_config(app.config))

    class Envelope:
        original_content = mail(body="y" * 5000)
        content = original_content
        rcpt_tos = [SUPPORT]

    import asyncio

    answer = asyncio.run(handler.handle_DATA(None, None, Envelope()))
    assert answer.startswith("552")
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(InboundMail)).status.value == "rejected"
    db_of(app).dispose()


# -- IMAP ---------------------------------------------------------------------------------------

def configure_imap(app: Flask, inbox: EmailInbox, imap: Imap) -> None:
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        row.settings = {**(row.settings or {}), "imap": imap.settings()}


def test_imap_fetch_reads_each_mail_once_and_remembers_the_uid(app: Flask, inbox: EmailInbox,
                                                               imap: Imap) -> None:
    configure_imap(app, inbox, imap)
    imap.append(mail(message_id="<i1@example.com>", subject="first"))
    imap.append(mail(message_id="<i2@example.com>", subject="second", sender="bob@example.com"))
    fetcher = ImapFetcher(db_of(app), ingest.MailSettings.from_config(app.config))
    assert fetcher.fetch(inbox.id).fetched == 2
    assert fetcher.fetch(inbox.id).fetched == 0  # nothing fetched twice
    imap.append(mail(message_id="<i3@example.com>", subject="third", sender="carol@example.com"))
    assert fetcher.fetch(inbox.id).fetched == 1  # nothing skipped
    assert count(app, Conversation) == 3 and count(app, InboundMail) == 3
    with db_of(app).unit_of_work() as s:
        cursor = s.scalar(select(ImapCursor))
        assert cursor.last_uid >= 3 and cursor.uidvalidity > 0


def test_a_changed_uidvalidity_rereads_the_folder_without_duplicates(app: Flask, inbox: EmailInbox,
                                                                      imap: Imap) -> None:
    configure_imap(app, inbox, imap)
    imap.append(mail(message_id="<u1@example.com>"))
    fetcher = ImapFetcher(db_of(app), ingest.MailSettings.from_config(app.config))
    fetcher.fetch(inbox.id)
    with db_of(app).unit_of_work() as s:
        s.scalar(select(ImapCursor)).uidvalidity = 1  # as if the server renumbered the folder
    result = fetcher.fetch(inbox.id)
    assert result.fetched >= 1 and result.outcomes == {"ignored": result.fetched}
    assert count(app, Message) == 1


def test_helpdesk_mail_fetch_command(app: Flask, inbox: EmailInbox, imap: Imap, tmp_path: Path) -> None:
    configure_imap(app, inbox, imap)
    imap.append(mail(message_id="<cli1@example.com>"))
    result = subprocess.run([sys.executable, "-m", "helpdesk", "mail", "fetch", "--inbox", "Support mail"],
                            env=helpdesk_env(app, tmp_path), cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Support mail: fetched 1 (1 created)" in result.stdout
    unknown = subprocess.run([sys.executable, "-m", "helpdesk", "mail", "fetch", "--inbox", "Nope"],
                             env=helpdesk_env(app, tmp_path), cwd=tmp_path, capture_output=True, text=True,
                             timeout=60)
    assert unknown.returncode == 2 and "no email inbox 'Nope'" in unknown.stderr


def test_the_worker_polls_imap_on_a_schedule(app: Flask, inbox: EmailInbox, imap: Imap) -> None:
    configure_imap(app, inbox, imap)
    imap.append(mail(message_id="<w1@example.com>"))
    with db_of(app).unit_of_work() as s:
        schedule_poll(s, inbox.id, every=60, delay=0)
        schedule_poll(s, inbox.id, every=60, delay=0)  # saving the settings twice still means one poll
    assert run_jobs(app) == 1
    assert count(app, Conversation) == 1
    with db_of(app).unit_of_work() as s:
        nxt = s.scalars(select(Job).filter_by(kind="email.imap_poll", state="queued")).all()
        assert len(nxt) == 1  # the next poll is scheduled


def test_an_unreachable_imap_server_is_recorded_and_polling_continues(app: Flask, inbox: EmailInbox,
                                                                       imap: Imap) -> None:
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        row.settings = {"imap": {**imap.settings(), "password": "wrong"}}
        s.add(ImapCursor(inbox_id=inbox.id, folder="INBOX", uidvalidity=1, last_uid=0))
        schedule_poll(s, inbox.id, every=60, delay=0)
    run_jobs(app)
    with db_of(app).unit_of_work() as s:
        assert "authentication failed" in (s.scalar(select(ImapCursor)).last_error or "").lower()
        queued = select(func.count()).select_from(Job).filter_by(kind="email.imap_poll", state="queued")
        assert s.scalar(queued) == 1
