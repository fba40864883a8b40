"""An agent's reply as email expects it: To/Cc/Bcc (with the reply and reply-all defaults), the
signature, and files; the one path for the console, the console socket and the REST API.

Signature rule: an agent's own signature (profile page) wins; without one, the inbox's signature
(its email settings) is used, a template where `{agent_name}` and `{inbox_name}` are filled in.
It is appended to public replies in email conversations only (not to chat, not to notes), below
the standard `-- ` delimiter, and stored as part of the message: what the customer got is what
the thread shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import getaddresses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.actors import Actor
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.tickets import services
from helpdesk.tickets.models import (
    AgentSignature,
    AuthorType,
    Channel,
    Conversation,
    Inbox,
    InboxAddress,
    Message,
)

MAX_RECIPIENTS = 50
MAX_SIGNATURE = 2000
SIGNATURE_DELIMITER = "\n\n-- \n"
# A dot-atom local part and a host name: nothing that could end a header or smuggle another
# address (quotes, angle brackets, commas, CR/LF) gets through.
ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                     r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                     r"[A-Za-z0-9])?)+$")


def clean_addresses(field: str, value: Any) -> list[str]:
    """Addresses from a list or a comma-separated string ("Name <a@b>" allowed), lower-cased and
    de-duplicated; Invalid(field) naming the first bad one."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = value
    else:
        raise Invalid(field, "a list of email addresses")
    found: list[str] = []
    for item in items:
        if "\r" in item or "\n" in item:
            raise Invalid(field, "an address must be on one line")
        if not item.strip():
            continue
        pairs = getaddresses([item])
        if not pairs or any(not addr for _name, addr in pairs):
            raise Invalid(field, f"{item.strip()[:80]!r} is not an email address")
        for _name, addr in pairs:
            addr = addr.strip().lower()
            if len(addr) > 254 or not ADDRESS.match(addr):
                raise Invalid(field, f"{addr[:80]!r} is not an email address")
            if addr not in found:
                found.append(addr)
    if len(found) > MAX_RECIPIENTS:
        raise Invalid(field, f"at most {MAX_RECIPIENTS} addresses")
    return found


def own_addresses(session: Session) -> set[str]:
    return {a.lower() for a in session.scalars(select(InboxAddress.address))}


def _is_own(address: str, own: set[str]) -> bool:
    local, _, domain = address.partition("@")
    return address in own or f"{local.split('+', 1)[0]}@{domain}" in own


def reply_defaults(session: Session, conversation: Conversation) -> dict[str, dict[str, list[str]]]:
    """What the reply box starts with: reply goes to the customer; reply-all also copies everyone
    on the latest mail of the thread (its From, To and Cc, or the Cc/To of our latest reply),
    minus our own inbox addresses and the customer."""
    customer = (conversation.customer.email or "").lower()
    to = [customer] if customer else []
    everyone: list[str] = []
    latest = session.scalars(select(Message).where(
        Message.conversation_id == conversation.id, Message.private.is_(False),
        Message.author_type.in_([AuthorType.customer, AuthorType.agent]))
        .order_by(Message.seq.desc()).limit(20)).all()
    for message in latest:
        meta = message.meta or {}
        if message.author_type is AuthorType.customer and isinstance(meta.get("email"), dict):
            mail = meta["email"]
            headers = [str(mail.get(k) or "") for k in ("from", "to", "cc")]
            everyone = [addr.lower() for _n, addr in getaddresses(headers) if "@" in addr]
            break
        if message.author_type is AuthorType.agent and isinstance(meta.get("recipients"), dict):
            rec = meta["recipients"]
            everyone = [*rec.get("to", []), *rec.get("cc", [])]
            break
    own = own_addresses(session)
    cc: list[str] = []
    for addr in everyone:
        if addr != customer and not _is_own(addr, own) and addr not in cc and ADDRESS.match(addr):
            cc.append(addr)
    return {"reply": {"to": to, "cc": []}, "reply_all": {"to": to, "cc": cc[:MAX_RECIPIENTS]}}


# -- signatures ---------------------------------------------------------------------------------

def signature_for(session: Session, agent_id: int | None, agent_name: str, inbox: Inbox) -> str:
    own = session.get(AgentSignature, agent_id) if agent_id else None
    if own is not None and own.body.strip():
        return own.body.strip()
    template = str((inbox.settings or {}).get("signature") or "").strip()
    return template.replace("{agent_name}", agent_name).replace("{inbox_name}", inbox.name)


def sign(body: str, signature: str) -> str:
    return f"{body.rstrip()}{SIGNATURE_DELIMITER}{signature}" if signature else body


def save_signature(session: Session, actor: Actor, body: str) -> AgentSignature:
    if not actor.is_agent:
        raise Forbidden("only agents have signatures")
    body = (body or "").replace("\r\n", "\n").strip() if isinstance(body, str) else ""
    if len(body) > MAX_SIGNATURE:
        raise Invalid("signature", f"at most {MAX_SIGNATURE} characters")
    row = session.get(AgentSignature, actor.id) or AgentSignature(agent_id=actor.id)
    row.body = body
    session.add(row)
    session.flush()
    return row


def clean_inbox_signature(value: Any) -> str:
    body = (value or "").replace("\r\n", "\n").strip() if isinstance(value, str) else ""
    if len(body) > MAX_SIGNATURE:
        raise Invalid("signature", f"at most {MAX_SIGNATURE} characters")
    return body


# -- the reply ----------------------------------------------------------------------------------

def reply(session: Session, actor: Actor, conversation: Conversation, *, body: Any,
          client_msg_id: str | None = None, private: bool = False, to: Any = None, cc: Any = None,
          bcc: Any = None, attachments: Iterable[Any] = (), max_len: int = services.MAX_BODY,
          meta: dict[str, Any] | None = None) -> Message:
    """Post an agent's message; on an email conversation a public one carries its recipients
    (stored in meta.recipients, read by the outbound mail) and the signature."""
    if not services.can_see(actor, conversation):
        raise NotFound("no such conversation")
    emailed = conversation.channel is Channel.email and not private
    if emailed and client_msg_id is not None and (
            existing := services._sent_before(session, conversation, str(client_msg_id))):
        return existing  # a resend: nothing is validated or signed twice (chat: post_message looks)
    to_list, cc_list, bcc_list = (clean_addresses("to", to), clean_addresses("cc", cc),
                                  clean_addresses("bcc", bcc))
    extra = dict(meta or {})
    if (to_list or cc_list or bcc_list) and not emailed:
        field = "to" if to_list else "cc" if cc_list else "bcc"
        raise Invalid(field, "recipients are for public replies in email conversations"
                      if conversation.channel is Channel.email else "chat conversations have no Cc or Bcc")
    if not isinstance(body, str):
        raise Invalid("body", "must be text")
    attachments = list(attachments)
    if not body.strip() and not attachments:
        raise Invalid("body", "must not be empty", code="empty_body")
    if len(body.strip()) > max_len:
        raise Invalid("body", f"longer than {max_len} characters", code="body_too_long")
    if emailed:
        customer = (conversation.customer.email or "").lower()
        to_list = to_list or ([customer] if customer else [])
        if not to_list:
            raise Invalid("to", "the customer has no email address: name a recipient")
        if len(to_list) + len(cc_list) + len(bcc_list) > MAX_RECIPIENTS:
            raise Invalid("cc", f"at most {MAX_RECIPIENTS} recipients in all")
        extra["recipients"] = {"to": to_list, "cc": cc_list, "bcc": bcc_list}
        if actor.is_agent and body.strip():
            body = sign(body.strip(), signature_for(session, actor.id, actor.name, conversation.inbox))
        elif actor.is_agent:
            body = signature_for(session, actor.id, actor.name, conversation.inbox)
    return services.post_message(session, actor, conversation, body=body, client_msg_id=client_msg_id,
                                 private=private, max_len=max_len + MAX_SIGNATURE + len(SIGNATURE_DELIMITER),
                                 meta=extra or None, attachments=attachments)
