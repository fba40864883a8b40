"""Email fixtures: a real SMTP sink (aiosmtpd), a throwaway Dovecot IMAP server (plain, STARTTLS and
implicit TLS with a certificate made at test time), an email inbox."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from helpdesk.jobs import Worker
from helpdesk.runtime import runtime_of
from tests.conftest import run_parse_job  # noqa: F401 - the email tests import it from here
from tests.factories import make_inbox
from tests.servers import free_port, port_open, self_signed_cert, wait_until

SUPPORT = "support@shop.example"


@dataclass
class SmtpSink:
    """aiosmtpd on 127.0.0.1 that keeps what it receives; `refuse` makes it answer an error."""

    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def parsed(self, index: int = -1) -> EmailMessage:
        return message_from_bytes(self.messages[index][2], policy=policy.default)  # type: ignore[return-value]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                  or envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@dataclass
class Imap:
    host: str
    port: int
    user: str
    password: str
    imaps_port: int = 0
    ca_file: str = ""  # the self-signed certificate Dovecot presents (its own CA)

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(self.user, self.password)
            status, data = client.append(folder, None, None, raw)
            assert status == "OK", data
        finally:
            client.logout()

    def settings(self, tls: str = "none") -> dict[str, Any]:
        """Inbox IMAP settings: "none" (plain), "starttls" (same port) or "ssl" (the IMAPS port)."""
        return {"host": self.host, "port": self.imaps_port if tls == "ssl" else self.port, "tls": tls,
                "user": self.user, "password": self.password, "folder": "INBOX"}


@pytest.fixture(scope="session")
def imap_server() -> Iterator[Imap]:
    """Dovecot with a passwd-file user and a Maildir in a temporary folder, on two free ports: IMAP
    (plain or STARTTLS) and IMAPS, with a self-signed certificate for 127.0.0.1 made here."""
    exe = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(exe):
        pytest.skip("Dovecot is not installed: apt-get install dovecot-imapd (scripts/test does)")
    if os.geteuid() != 0:
        pytest.skip("the Dovecot fixture runs dovecot -F as root (as in CI)")
    mail_user = pwd.getpwnam("mail")
    root = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    os.chmod(root, 0o755)
    for sub in ("run", "state", "home"):
        (root / sub).mkdir()
    os.chown(root / "home", mail_user.pw_uid, mail_user.pw_gid)
    port, imaps_port = free_port(), free_port()
    cert, key = self_signed_cert(root)
    os.chmod(key, 0o600)
    (root / "passwd").write_text(f"{SUPPORT}:{{PLAIN}}imap-secret\n")
    (root / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/home/%u/Maildir
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
""")
    proc = subprocess.Popen([exe, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: (port_open(port) and port_open(imaps_port)) or proc.poll() is not None, timeout=15,
                   message="dovecot to listen")
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited: {(root / 'dovecot.log').read_text(errors='replace')}")
        yield Imap("127.0.0.1", port, SUPPORT, "imap-secret", imaps_port, str(cert))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap(imap_server: Imap) -> Iterator[Imap]:
    """The session's Dovecot with an empty INBOX for this test."""
    client = imaplib.IMAP4(imap_server.host, imap_server.port, timeout=10)
    client.login(imap_server.user, imap_server.password)
    client.select("INBOX")
    _status, data = client.uid("SEARCH", None, "ALL")
    if data and data[0]:
        client.uid("STORE", ",".join(data[0].decode().split()), "+FLAGS.SILENT", r"(\Deleted)")
        client.expunge()
    client.logout()
    yield imap_server


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp: SmtpSink) -> dict[str, Any]:
    """Every email test app sends through the SMTP sink."""
    return {**app_config, "SMTP_URL": smtp.url, "EMAIL_DOMAIN": "helpdesk.test",
            "MAILGUN_SIGNING_KEY": "mailgun-key", "CHAT_EMAIL_FALLBACK_SECONDS": 0,
            "IMAP_ALLOW_LOOPBACK": True}  # the test Dovecot listens on 127.0.0.1


@dataclass
class EmailInbox:
    id: int
    public_id: str
    token: str
    address: str = SUPPORT


@pytest.fixture
def inbox(app: Flask) -> EmailInbox:
    row, token = make_inbox(app, name="Support mail", channel="email", address=SUPPORT)
    return EmailInbox(row.id, row.public_id, token)


def run_jobs(app: Flask) -> int:
    return Worker(runtime_of(app)).run_until_idle(max_jobs=100)


def mail(subject: str = "Where is my order?", *, sender: str = "Ann Buyer <ann@example.com>",
         to: str = SUPPORT, message_id: str | None = "<m1@example.com>", body: str = "Hello, where is it?",
         headers: dict[str, str] | None = None) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", "Date: Sat, 28 Nov 2026 06:00:00 +0000",
             "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def post_raw(client: Any, raw: bytes, token: str) -> Any:
    return client.post("/inbound/email/raw", data=raw, headers={"Authorization": f"Bearer {token}",
                                                                "Content-Type": "message/rfc822"})
