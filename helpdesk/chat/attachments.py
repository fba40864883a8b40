"""Files a shopper sends from the widget: checked, stored, claimed by one message, served signed."""

from __future__ import annotations

import hashlib
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.chat.models import ChatUpload, ChatVisitor
from helpdesk.errors import Invalid, NotFound
from helpdesk.tickets.models import Attachment, Message
from helpdesk.tickets.serialize import message_dict
from helpdesk.tickets.uploads import MAX_PER_MESSAGE, clean_filename, sniff  # the rules agents' files share


def store_upload(session: Session, visitor: ChatVisitor, *, filename: str, data: bytes,
                 max_bytes: int) -> Attachment:
    if not data:
        raise Invalid("file", "the file is empty", code="file_empty")
    if len(data) > max_bytes:
        raise Invalid("file", f"larger than {max_bytes // (1024 * 1024)} MB", code="file_too_big")
    filename = clean_filename(filename)
    content_type = sniff(filename, data)
    attachment = Attachment(filename=filename, content_type=content_type, size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), data=data)
    session.add(attachment)
    session.flush()
    session.add(ChatUpload(attachment_id=attachment.id, visitor_id=visitor.id))
    session.flush()
    return attachment


def claim_uploads(session: Session, visitor: ChatVisitor, ids: Any) -> list[Attachment]:
    """The visitor's own unsent uploads with these public ids; anything else is refused whole."""
    if ids in (None, []):
        return []
    if not isinstance(ids, list) or len(ids) > MAX_PER_MESSAGE or not all(isinstance(i, str) for i in ids):
        raise Invalid("attachments", f"a list of at most {MAX_PER_MESSAGE} uploaded file ids")
    rows = session.scalars(select(Attachment).join(ChatUpload, ChatUpload.attachment_id == Attachment.id)
                           .where(Attachment.public_id.in_(ids), ChatUpload.visitor_id == visitor.id,
                                  Attachment.message_id.is_(None))).all()
    if len(rows) != len(set(ids)):
        raise Invalid("attachments", "unknown or already sent file", code="unknown_attachment")
    order = {pid: n for n, pid in enumerate(ids)}
    return sorted(rows, key=lambda a: order[a.public_id])


LINK_SECONDS = 7 * 24 * 3600  # HELPDESK_WIDGET_LINK_DAYS; `history` hands out fresh links


def _signer(secret: str) -> URLSafeTimedSerializer:
    # Timed: a link copied out of the widget (a forwarded screenshot, a proxy log) stops working.
    return URLSafeTimedSerializer(secret, salt="helpdesk.widget-attachment.v2")


def signed_url(secret: str, public_id: str) -> str:
    return f"/widget/attachments/{public_id}?sig={_signer(secret).dumps(public_id)}"


def verify(secret: str, public_id: str, sig: str, max_age: float = LINK_SECONDS) -> bool:
    try:
        return _signer(secret).loads(sig, max_age=max_age) == public_id
    except BadSignature:  # SignatureExpired included
        return False


def load_signed(session: Session, secret: str, public_id: str, sig: str,
                max_age: float = LINK_SECONDS) -> Attachment:
    attachment = session.scalar(select(Attachment).filter_by(public_id=public_id))
    if attachment is None or not verify(secret, public_id, sig, max_age):
        raise NotFound("no such file")
    message = attachment.message
    if message is not None and message.private:
        raise NotFound("no such file")
    return attachment


def widget_message(message: Message, secret: str) -> dict[str, Any]:
    """MESSAGE for the shopper: attachment links the frame can open without a login."""
    data = message_dict(message)
    for item in data["attachments"]:
        item["url"] = signed_url(secret, item["id"])
    return data


def upload_dict(attachment: Attachment, secret: str) -> dict[str, Any]:
    return {"id": attachment.public_id, "filename": attachment.filename,
            "content_type": attachment.content_type, "size": attachment.size,
            "url": signed_url(secret, attachment.public_id)}
