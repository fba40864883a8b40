"""IMAP over TLS against the real Dovecot: implicit TLS (IMAPS) and STARTTLS, with the certificate
verified against the system store plus HELPDESK_IMAP_CA_FILE; an untrusted certificate stops the
fetch before the login, clearly, and loses nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.tickets.email import ingest
from helpdesk.tickets.email.imap import ImapFetcher, TlsNotTrusted, schedule_poll
from helpdesk.tickets.email.models import ImapCursor, InboundMail
from helpdesk.tickets.models import Conversation, Inbox
from tests.conftest import csrf_token
from tests.email.conftest import SUPPORT, EmailInbox, Imap, mail, run_jobs
from tests.email.test_transports import helpdesk_env

TLS_MODES = ["ssl", "starttls"]


def count(app: Flask, model: type) -> int:
    with db_of(app).unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def use_imap(app: Flask, inbox: EmailInbox, imap: Imap, tls: str) -> None:
    with db_of(app).unit_of_work() as s:
        row = s.get(Inbox, inbox.id)
        row.settings = {**(row.settings or {}), "imap": imap.settings(tls)}


def fetcher(app: Flask, ca_file: str | None) -> ImapFetcher:
    return ImapFetcher(db_of(app), ingest.MailSettings.from_config({**app.config, "IMAP_CA_FILE": ca_file}))


@pytest.mark.parametrize("tls", TLS_MODES)
def test_fetch_over_tls_with_the_ca_file_reads_each_mail_once(app: Flask, inbox: EmailInbox, imap: Imap,
                                                               tls: str) -> None:
    use_imap(app, inbox, imap, tls)
    imap.append(mail(message_id=f"<{tls}1@example.com>", subject="first"))
    imap.append(mail(message_id=f"<{tls}2@example.com>", subject="second", sender="bob@example.com"))
    trusted = fetcher(app, imap.ca_file)
    assert trusted.fetch(inbox.id).fetched == 2
    assert trusted.fetch(inbox.id).fetched == 0  # the UID cursor: nothing twice
    imap.append(mail(message_id=f"<{tls}3@example.com>", subject="third", sender="carol@example.com"))
    assert trusted.fetch(inbox.id).fetched == 1  # nothing skipped
    assert count(app, Conversation) == 3 and count(app, InboundMail) == 3
    with db_of(app).unit_of_work() as s:
        cursor = s.scalar(select(ImapCursor))
        assert cursor.last_uid >= 3 and cursor.uidvalidity > 0 and cursor.last_error is None


@pytest.mark.parametrize("tls", TLS_MODES)
def test_an_untrusted_certificate_fails_clearly_and_loses_nothing(app: Flask, inbox: EmailInbox, imap: Imap,
                                                                   tls: str) -> None:
    use_imap(app, inbox, imap, tls)
    imap.append(mail(message_id=f"<untrusted-{tls}@example.com>"))
    with pytest.raises(TlsNotTrusted) as failure:
        fetcher(app, None).fetch(inbox.id)
    message = str(failure.value)
    assert f"TLS certificate of 127.0.0.1:{imap.settings(tls)['port']} not trusted" in message
    assert "self-signed" in message and "HELPDESK_IMAP_CA_FILE" in message
    assert count(app, InboundMail) == 0 and count(app, ImapCursor) == 0
    # Trusting the certificate afterwards fetches the mail that waited on the server.
    assert fetcher(app, imap.ca_file).fetch(inbox.id).fetched == 1
    assert count(app, Conversation) == 1


def test_an_unreadable_ca_file_is_named_in_the_error(app: Flask, inbox: EmailInbox, imap: Imap,
                                                     tmp_path: Path) -> None:
    use_imap(app, inbox, imap, "ssl")
    missing = str(tmp_path / "no-such-ca.pem")
    with pytest.raises(TlsNotTrusted, match=r"HELPDESK_IMAP_CA_FILE .*no-such-ca\.pem.* cannot be loaded"):
        fetcher(app, missing).fetch(inbox.id)
    assert count(app, InboundMail) == 0


def test_the_admin_page_shows_why_a_tls_account_cannot_be_polled(app: Flask, admin_client: FlaskClient,
                                                                  inbox: EmailInbox, imap: Imap) -> None:
    imap.append(mail(message_id="<admin-tls@example.com>"))
    token = csrf_token(admin_client, "/admin/mail")
    form = {"csrf_token": token, "imap_host": "127.0.0.1", "imap_port": str(imap.imaps_port), "imap_tls": "ssl",
            "imap_user": SUPPORT, "imap_password": imap.password, "imap_folder": "INBOX"}
    assert admin_client.post(f"/admin/mail/inbox/{inbox.public_id}", data=form).status_code == 303
    run_jobs(app)  # the poll that saving scheduled; the app has no IMAP_CA_FILE
    page = admin_client.get("/admin/mail").get_data(as_text=True)
    assert f"TLS certificate of 127.0.0.1:{imap.imaps_port} not trusted" in page
    assert count(app, InboundMail) == 0
    # The admin trusts the CA; the next poll clears the error and fetches the mail.
    app.config["IMAP_CA_FILE"] = imap.ca_file
    with db_of(app).unit_of_work() as s:  # the poll job reads the app's settings when it runs
        schedule_poll(s, inbox.id, every=app.config["IMAP_POLL_SECONDS"], delay=0)
    run_jobs(app)
    assert count(app, Conversation) == 1
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(ImapCursor)).last_error is None
    assert "not trusted" not in admin_client.get("/admin/mail").get_data(as_text=True)


def test_mail_fetch_command_fails_on_an_untrusted_certificate_and_works_with_the_ca_file(
        app: Flask, inbox: EmailInbox, imap: Imap, tmp_path: Path) -> None:
    use_imap(app, inbox, imap, "starttls")
    imap.append(mail(message_id="<cli-tls@example.com>"))
    command = [sys.executable, "-m", "helpdesk", "mail", "fetch"]
    env = helpdesk_env(app, tmp_path)
    failed = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert "Support mail: error: TlsNotTrusted: TLS certificate of 127.0.0.1" in failed.stderr
    assert count(app, InboundMail) == 0
    ok = subprocess.run(command, env={**env, "HELPDESK_IMAP_CA_FILE": imap.ca_file}, cwd=tmp_path,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "Support mail: fetched 1 (1 created)" in ok.stdout
