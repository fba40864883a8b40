"""`helpdesk mail smtpd`: an SMTP server (aiosmtpd) that accepts mail for inbox addresses only and
hands each message to the one ingestion path. Put it behind your MX or a relay."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SMTPSession
from sqlalchemy import select

from helpdesk.db import Database
from helpdesk.tickets.email import ingest
from helpdesk.tickets.models import InboxAddress

log = logging.getLogger(__name__)


class InboundSMTP:
    """The aiosmtpd handler."""

    def __init__(self, db: Database, settings: ingest.MailSettings) -> None:
        self.db = db
        self.settings = settings

    def inbox_for(self, address: str) -> int | None:
        local, _, domain = address.strip().strip("<>").lower().partition("@")
        candidates = [f"{local}@{domain}", f"{local.split('+', 1)[0]}@{domain}"]
        with self.db.unit_of_work() as session:
            return session.scalar(select(InboxAddress.inbox_id).where(InboxAddress.address.in_(candidates)))

    async def handle_RCPT(self, server: SMTP, session: SMTPSession, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.inbox_for(address) is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SMTPSession, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        inbox_id = self.inbox_for(envelope.rcpt_tos[0]) if envelope.rcpt_tos else None
        outcome = ingest.receive(self.db, raw, transport="smtp", settings=self.settings, inbox_id=inbox_id)
        if outcome.action == "rejected":
            return "552 5.3.4 Message too big for this system"
        # failed mails are kept for an admin: accepting them stops the sender retrying forever
        return f"250 OK {outcome.inbound_id} {outcome.action}"


def make_server(handler: InboundSMTP, hostname: str, port: int,
                loop: asyncio.AbstractEventLoop) -> asyncio.base_events.Server:
    limit = handler.settings.max_bytes * 2  # oversize up to this is stored and refused with 552

    def factory() -> SMTP:
        return SMTP(handler, data_size_limit=limit, enable_SMTPUTF8=True, decode_data=False,
                    hostname=hostname)

    return loop.run_until_complete(loop.create_server(factory, host=hostname, port=port))


def serve(db: Database, settings: ingest.MailSettings, hostname: str, port: int,
          ready: Any = None) -> None:
    """Run the server in this thread until interrupted."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = make_server(InboundSMTP(db, settings), hostname, port, loop)
    if ready is not None:
        ready()
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()
