"""IMAP fetching per email inbox. The cursor (UIDVALIDITY, last UID) advances one mail at a time,
after that mail's raw bytes are committed: nothing is skipped, and a crash re-fetches at most one
mail, which the Message-ID then de-duplicates. Read-only: flags on the server are never touched."""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import jobs
from helpdesk.db import Database
from helpdesk.errors import Invalid
from helpdesk.runtime import JobContext, utcnow
from helpdesk.tickets.email import hosts, ingest
from helpdesk.tickets.email.models import ImapCursor
from helpdesk.tickets.models import Channel, Inbox

log = logging.getLogger(__name__)

POLL_JOB = "email.imap_poll"
MAX_PER_PASS = 500  # a huge backlog drains over several passes, each bounded
TIMEOUT = 60


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    tls: str  # "ssl" (implicit, port 993), "starttls", or "none" (tests, a local server)
    user: str
    password: str
    folder: str = "INBOX"

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> ImapConfig:
        return cls(host=str(data["host"]), port=int(data["port"]), tls=str(data.get("tls", "ssl")),
                   user=str(data["user"]), password=str(data.get("password", "")),
                   folder=str(data.get("folder") or "INBOX"))

    @classmethod
    def from_form(cls, form: Mapping[str, str], keep_password: str | None = None,
                  old: Mapping[str, Any] | None = None, allow_loopback: bool = False) -> ImapConfig:
        """The form's account. A stored password is kept only for the same host, port, security and
        user: otherwise a changed host would receive the old server's password."""
        host = (form.get("imap_host") or "").strip()
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", host):
            raise Invalid("imap_host", "a host name")
        hosts.check_literal(host, allow_loopback=allow_loopback)
        tls = form.get("imap_tls") or "ssl"
        if tls not in ("ssl", "starttls", "none"):
            raise Invalid("imap_tls", "ssl, starttls or none")
        try:
            port = int(form.get("imap_port") or (993 if tls == "ssl" else 143))
        except ValueError:
            raise Invalid("imap_port", "a port number") from None
        if not 0 < port < 65536:
            raise Invalid("imap_port", "a port number")
        user = (form.get("imap_user") or "").strip()
        if not user:
            raise Invalid("imap_user", "the login name is required")
        same = old is not None and (str(old.get("host", "")).lower(), str(old.get("port", "")),
                                    str(old.get("tls", "ssl")), str(old.get("user", ""))) == (
            host.lower(), str(port), tls, user)
        password = form.get("imap_password") or (keep_password if same or old is None else None) or ""
        if not password and keep_password and not same:
            raise Invalid("imap_password", "enter the password again: the host, port, security or user changed")
        folder = (form.get("imap_folder") or "INBOX").strip()[:255]
        return cls(host, port, tls, user, password, folder)

    def as_settings(self) -> dict[str, Any]:
        return asdict(self)


class TlsNotTrusted(OSError):
    """The server's certificate did not verify: nothing was sent, not even the login."""


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The system's trust store plus, when set, HELPDESK_IMAP_CA_FILE (a private CA or a self-signed
    server certificate). Verification and host name checking always stay on."""
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsNotTrusted(f"HELPDESK_IMAP_CA_FILE {ca_file!r} cannot be loaded: {exc}") from exc
    return context


class _Pinned:
    """Connect to the address that was vetted, not to whatever the name resolves to a moment later;
    TLS still checks the certificate against the host name."""

    _address: str

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self._address, self.port), timeout)  # type: ignore[attr-defined]


class _PinnedIMAP4(_Pinned, imaplib.IMAP4):
    def __init__(self, address: str, host: str, port: int, timeout: float) -> None:
        self._address = address
        super().__init__(host, port, timeout=timeout)


class _PinnedIMAP4SSL(_Pinned, imaplib.IMAP4_SSL):
    def __init__(self, address: str, host: str, port: int, timeout: float, ssl_context: ssl.SSLContext) -> None:
        self._address = address
        super().__init__(host, port, timeout=timeout, ssl_context=ssl_context)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        raw = _Pinned._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(raw, server_hostname=self.host)


def connect(config: ImapConfig, ca_file: str | None = None, allow_loopback: bool = False) -> imaplib.IMAP4:
    context = tls_context(ca_file) if config.tls in ("ssl", "starttls") else None
    address = hosts.vetted_addresses(config.host, config.port, allow_loopback=allow_loopback)[0][1]
    try:
        if config.tls == "ssl":
            assert context is not None
            client: imaplib.IMAP4 = _PinnedIMAP4SSL(address, config.host, config.port, TIMEOUT, context)
        else:
            client = _PinnedIMAP4(address, config.host, config.port, TIMEOUT)
    except ssl.SSLCertVerificationError as exc:
        raise _not_trusted(config, ca_file, exc) from exc
    try:
        if config.tls == "starttls":
            # imaplib refuses when the server does not offer STARTTLS: never a silent fallback
            # to plain text with the password.
            client.starttls(context)
        client.login(config.user, config.password)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            client.shutdown()  # a failed poll every minute must not leak a socket each time
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise _not_trusted(config, ca_file, exc) from exc
        raise
    return client


def _not_trusted(config: ImapConfig, ca_file: str | None, exc: ssl.SSLCertVerificationError) -> TlsNotTrusted:
    hint = "; trust its CA with HELPDESK_IMAP_CA_FILE" if not ca_file else ""
    return TlsNotTrusted(f"TLS certificate of {config.host}:{config.port} not trusted ({exc.verify_message}){hint}")


@dataclass
class FetchResult:
    fetched: int = 0
    outcomes: dict[str, int] | None = None


class ImapFetcher:
    """One pass over one inbox's folder."""

    def __init__(self, db: Database, settings: ingest.MailSettings) -> None:
        self.db = db
        self.settings = settings

    def fetch(self, inbox_id: int) -> FetchResult:
        with self.db.unit_of_work() as session:
            inbox = session.get(Inbox, inbox_id)
            if inbox is None or not (inbox.settings or {}).get("imap"):
                return FetchResult()
            config = ImapConfig.from_settings(inbox.settings["imap"])
        result = FetchResult(outcomes={})
        client = connect(config, self.settings.imap_ca_file, self.settings.imap_allow_loopback)
        try:
            status, _ = client.select(_quote(config.folder), readonly=True)
            if status != "OK":
                raise RuntimeError(f"cannot open folder {config.folder!r}")
            uidvalidity = int(client.untagged_responses.get("UIDVALIDITY", [b"0"])[-1])
            last_uid = self._cursor(inbox_id, config.folder, uidvalidity)
            status, data = client.uid("SEARCH", None, f"UID {last_uid + 1}:*")
            uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last_uid)[:MAX_PER_PASS]
            for uid in uids:
                status, parts = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
                raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) > 1), None)
                if status != "OK" or raw is None:
                    raise RuntimeError(f"FETCH of UID {uid} failed")
                outcome = ingest.receive(self.db, raw, transport="imap", settings=self.settings,
                                         inbox_id=inbox_id)
                result.outcomes[outcome.action] = result.outcomes.get(outcome.action, 0) + 1
                self._advance(inbox_id, config.folder, uid)
                result.fetched += 1
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.logout()
        return result

    def _cursor(self, inbox_id: int, folder: str, uidvalidity: int) -> int:
        with self.db.unit_of_work() as session:
            cursor = session.scalar(select(ImapCursor).filter_by(inbox_id=inbox_id, folder=folder))
            if cursor is None:
                cursor = ImapCursor(inbox_id=inbox_id, folder=folder, uidvalidity=uidvalidity, last_uid=0)
                session.add(cursor)
            elif cursor.uidvalidity == 0:  # a row made to record an error before the folder opened
                cursor.uidvalidity = uidvalidity
            elif cursor.uidvalidity != uidvalidity:
                # The server renumbered the folder: old UIDs mean nothing. Read it all again;
                # Message-IDs keep what we already have from being stored twice.
                log.warning("UIDVALIDITY of inbox %s changed: re-reading %s", inbox_id, folder)
                cursor.uidvalidity = uidvalidity
                cursor.last_uid = 0
            cursor.last_polled_at = utcnow()
            cursor.last_error = None
            return cursor.last_uid

    def _advance(self, inbox_id: int, folder: str, uid: int) -> None:
        with self.db.unit_of_work() as session:
            cursor = session.scalar(select(ImapCursor).filter_by(inbox_id=inbox_id, folder=folder))
            if cursor is not None and uid > cursor.last_uid:
                cursor.last_uid = uid


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_inboxes(session: Session, name: str | None = None) -> list[Inbox]:
    query = select(Inbox).filter_by(channel=Channel.email).order_by(Inbox.name)
    if name:
        query = query.filter_by(name=name)
    return [i for i in session.scalars(query) if (i.settings or {}).get("imap")]


# -- the worker's schedule ----------------------------------------------------------------------

def schedule_poll(session: Session, inbox_id: int, *, every: float, delay: float | None = None) -> jobs.Job:
    """One pending poll per inbox and time slot: saving settings twice or two chains of polls
    collapse into one through the dedupe key. `every` is IMAP_POLL_SECONDS."""
    every = float(every or 60)
    delay = every if delay is None else delay
    slot = int((time.time() + delay) // every)
    return jobs.enqueue(session, POLL_JOB, {"inbox_id": inbox_id}, delay=delay,
                        dedupe_key=f"imap-poll:{inbox_id}:{slot}", max_attempts=3)


def poll_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    db, settings = ctx.db, ingest.MailSettings.from_config(ctx.settings)
    every = float(ctx.settings.get("IMAP_POLL_SECONDS") or 60)
    inbox_id = int(payload["inbox_id"])
    error = None
    try:
        ImapFetcher(db, settings).fetch(inbox_id)
    except (OSError, imaplib.IMAP4.error, RuntimeError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("IMAP poll of inbox %s failed: %s", inbox_id, error)
    with db.unit_of_work() as session:
        inbox = session.get(Inbox, inbox_id)
        if inbox is None or not (inbox.settings or {}).get("imap"):
            return  # the account was removed: the chain of polls ends here
        if error:
            # The admin page shows the error on the cursor row, which the first successful login makes:
            # a first poll that fails (bad certificate, password) makes the row itself, UIDVALIDITY 0
            # meaning "never opened" (servers send 1 or more).
            folder = str(inbox.settings["imap"].get("folder") or "INBOX")
            cursor = session.scalar(select(ImapCursor).filter_by(inbox_id=inbox_id, folder=folder))
            if cursor is None:
                cursor = ImapCursor(inbox_id=inbox_id, folder=folder, uidvalidity=0, last_uid=0)
                session.add(cursor)
            cursor.last_polled_at = utcnow()
            cursor.last_error = error
        schedule_poll(session, inbox_id, every=every)
