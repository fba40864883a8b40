"""Per-inbox chat settings: the widget's greeting, colour and pre-chat form (with its optional marketing
consent box), whether it tells the shop page's dataLayer about chats, and how chats are routed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from helpdesk.accounts.models import Agent, Role
from helpdesk.accounts.services import audit, require
from helpdesk.actors import Actor
from helpdesk.chat.models import ChatVisitor
from helpdesk.chat.visitors import actor_of
from helpdesk.crm.models import Customer
from helpdesk.errors import Invalid
from helpdesk.marketing import consent as marketing
from helpdesk.tickets.models import Channel, Inbox

COLOR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_GREETING = 300
MAX_CONSENT_TEXT = 300
MAX_OPEN_LIMIT = 100
MAX_ORIGINS = 20
HOST = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?")


def parse_origins(text: str) -> list[str]:
    """The shop origins allowed to frame the widget, one a line or comma-separated, as
    `https://shop.example` (a leading `*.` for subdomains); anything else is refused."""
    origins: list[str] = []
    for raw in re.split(r"[\s,]+", (text or "").strip()):
        if not raw:
            continue
        parts = urlsplit(raw.lower().rstrip("/"))
        if parts.scheme not in ("http", "https") or not HOST.fullmatch(parts.netloc or "") \
                or parts.path or parts.query or parts.fragment:
            raise Invalid("allowed_origins", f"{raw!r} is not an origin like https://shop.example")
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        raise Invalid("allowed_origins", f"at most {MAX_ORIGINS} origins")
    return origins


def frame_ancestors(inbox: Inbox) -> str:
    """The CSP `frame-ancestors` of the widget frame: the inbox's shop origins, or any site when
    none is set (the widget's job is to be framed by the shop)."""
    origins = [o for o in (inbox.settings or {}).get("allowed_origins") or [] if isinstance(o, str)]
    return " ".join(["'self'", *origins]) if origins else "*"


def consent_box(inbox: Inbox) -> dict[str, object] | None:
    """The pre-chat form's marketing consent box, or None when the shop does not ask (the default)."""
    options = inbox.settings or {}
    if not options.get("prechat") or not options.get("consent"):
        return None
    return {"text": options.get("consent_text") or ""}  # "": the widget's own wording, in its language


def data_layer_on(inbox: Inbox) -> bool:
    return bool((inbox.settings or {}).get("data_layer"))


def record_consent(session: Session, visitor: ChatVisitor, customer: Customer, value: object, *,
                   sync: bool) -> None:
    """The pre-chat box: only a ticked box counts (an unticked one is no answer, not a no)."""
    if consent_box(visitor.inbox) is None:
        raise Invalid("marketing_consent", "this chat does not ask for marketing consent")
    if not isinstance(value, bool):
        raise Invalid("marketing_consent", "true or false")
    if value:
        marketing.set_consent(session, actor_of(session, visitor), customer, True, source="widget", sync=sync)


def update(session: Session, actor: Actor, inbox: Inbox, *, greeting: str, color: str, prechat: bool,
           auto_assign: bool, max_open_per_agent: object, members: Sequence[Agent],
           allowed_origins: str | None = None, consent: bool | None = None, consent_text: str | None = None,
           data_layer: bool | None = None) -> Inbox:
    """Change the chat settings; None for the newer options keeps what is set."""
    require(actor, Role.admin)
    if inbox.channel is not Channel.chat:
        raise Invalid("inbox", "chat settings apply to chat inboxes only")
    greeting = " ".join((greeting or "").split())
    if len(greeting) > MAX_GREETING:
        raise Invalid("greeting", f"at most {MAX_GREETING} characters")
    if color and not COLOR.fullmatch(color):
        raise Invalid("color", "a colour like #4f46e5")
    try:
        limit = int(max_open_per_agent or 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise Invalid("max_open_per_agent", "a whole number") from None
    if not 0 <= limit <= MAX_OPEN_LIMIT:
        raise Invalid("max_open_per_agent", f"0 (no limit) to {MAX_OPEN_LIMIT}")
    options = inbox.settings or {}
    consent = bool(options.get("consent")) if consent is None else bool(consent)
    data_layer = bool(options.get("data_layer")) if data_layer is None else bool(data_layer)
    consent_text = options.get("consent_text") or "" if consent_text is None else " ".join(consent_text.split())
    if len(consent_text) > MAX_CONSENT_TEXT:
        raise Invalid("consent_text", f"at most {MAX_CONSENT_TEXT} characters")
    origins = parse_origins(allowed_origins) if allowed_origins is not None else options.get("allowed_origins") or []
    before = {"greeting": options.get("greeting"), "prechat": options.get("prechat"),
              "allowed_origins": options.get("allowed_origins") or [],
              "consent": bool(options.get("consent")), "consent_text": options.get("consent_text") or "",
              "data_layer": bool(options.get("data_layer")),
              "auto_assign": inbox.auto_assign, "max_open_per_agent": inbox.max_open_per_agent,
              "members": sorted(a.email for a in inbox.members)}
    inbox.settings = {**options, "greeting": greeting, "color": color or None, "prechat": prechat,
                      "allowed_origins": origins, "consent": consent, "consent_text": consent_text,
                      "data_layer": data_layer}
    inbox.auto_assign = auto_assign
    inbox.max_open_per_agent = limit
    inbox.members = list(members)
    session.flush()
    audit(session, actor, "inbox.chat_settings", "inbox", inbox.public_id, before=before,
          after={"greeting": greeting, "prechat": prechat, "auto_assign": auto_assign, "allowed_origins": origins,
                 "consent": consent, "consent_text": consent_text, "data_layer": data_layer,
                 "max_open_per_agent": limit, "members": sorted(a.email for a in members)})
    return inbox
