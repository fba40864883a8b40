"""Where a chat visitor is: the shop page and referrer the widget reports at connect, and the
browser's User-Agent. Kept bounded and only as http(s) links; shown beside the chat in the console."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.chat.models import ChatVisitor, VisitorConversation
from helpdesk.tickets.models import Channel, Conversation

MAX_URL = 1000
MAX_AGENT = 400


def clean_url(value: Any) -> str | None:
    """An http(s) URL of at most MAX_URL characters, else nothing (never a javascript: link)."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        return None
    parts = urlsplit(value.strip())
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def note(visitor: ChatVisitor, page: Any, referrer: Any, user_agent: str | None) -> None:
    page_url, ref = clean_url(page), clean_url(referrer)
    if page_url:
        visitor.page_url = page_url
        visitor.referrer = ref
    if user_agent:
        visitor.user_agent = user_agent[:MAX_AGENT]


# Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari".
_BROWSERS = (("Edge", r"Edg(?:e|A|iOS)?/(\d+)"), ("Opera", r"OPR/(\d+)"), ("Firefox", r"Firefox/(\d+)"),
             ("Chrome", r"(?:Chrome|CriOS)/(\d+)"), ("Safari", r"Version/(\d+)[\d.]* .*Safari/"))
_SYSTEMS = (("iOS", r"iPhone|iPad"), ("Android", r"Android"), ("Windows", r"Windows"),
            ("macOS", r"Mac OS X"), ("Linux", r"Linux"))


def browser_of(user_agent: str | None) -> str | None:
    """"Chrome 131 on Android" from a User-Agent; the raw string's start when nothing matches."""
    if not user_agent:
        return None
    browser = next((f"{name} {m.group(1)}" for name, pattern in _BROWSERS
                    if (m := re.search(pattern, user_agent))), None)
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, user_agent)), None)
    if browser is None:
        return user_agent[:60]
    return f"{browser} on {system}" if system else browser


def sidebar_data(session: Session, conversation: Conversation) -> dict[str, Any] | None:
    """The "visitor" panel of the conversation page: for chats, the browser that started it."""
    if conversation.channel is not Channel.chat:
        return None
    visitor = session.scalar(select(ChatVisitor).join(VisitorConversation,
                                                      VisitorConversation.visitor_id == ChatVisitor.id)
                             .where(VisitorConversation.conversation_id == conversation.id)
                             .order_by(VisitorConversation.id).limit(1))
    if visitor is None or not (visitor.page_url or visitor.user_agent):
        return None
    return {"page": visitor.page_url, "referrer": visitor.referrer, "browser": browser_of(visitor.user_agent),
            "user_agent": visitor.user_agent, "last_seen_at": visitor.last_seen_at}
