"""A new email from an agent to a customer: a new email conversation whose first message is the
agent's; the customer's answer threads back by our Message-ID (In-Reply-To) like any reply."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from helpdesk.actors import Actor
from helpdesk.crm import services as crm
from helpdesk.errors import Forbidden, Invalid
from helpdesk.tickets import replies
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Channel, Conversation, Inbox


def compose(session: Session, actor: Actor, *, inbox: Inbox | None, to: Any, subject: Any, body: Any,
            cc: Any = None, bcc: Any = None, attachments: Iterable[Any] = ()) -> Conversation:
    if not actor.is_agent:
        raise Forbidden("only agents write new emails")
    if inbox is None or inbox.channel is not Channel.email:
        raise Invalid("inbox", "choose an email inbox to send from")
    to_list = replies.clean_addresses("to", to)
    if not to_list:
        raise Invalid("to", "name the customer's email address")
    subject = subject.strip() if isinstance(subject, str) else ""
    if not subject:
        raise Invalid("subject", "a new email needs a subject")
    # Everything is checked before anything is written: a refused mail leaves no half conversation.
    cc_list, bcc_list = replies.clean_addresses("cc", cc), replies.clean_addresses("bcc", bcc)
    attachments = list(attachments)
    if not isinstance(body, str) or not (body.strip() or attachments):
        raise Invalid("body", "must not be empty", code="empty_body")
    customer = crm.customer_for_email(session, actor, to_list[0])
    conversation = tickets.create_conversation(session, actor, inbox=inbox, customer=customer,
                                               subject=subject, channel=Channel.email)
    replies.reply(session, actor, conversation, body=body, to=to_list, cc=cc_list, bcc=bcc_list,
                  attachments=attachments, meta={"compose": True})
    return conversation
