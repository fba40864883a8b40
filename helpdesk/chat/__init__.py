"""Live chat: the widget and console sockets, visitors, presence and chat assignment.

`init_app` wires the room into the app; `csat_hook` is where a widget's `csat:submit` lands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpdesk.errors import DomainError

if TYPE_CHECKING:
    from flask import Flask


class CsatUnavailable(DomainError):
    status = 501
    code = "csat_unavailable"


def _no_csat(session: Any, actor: Any, conversation: Any, score: int, comment: str | None) -> None:
    raise CsatUnavailable("satisfaction ratings are not set up on this helpdesk")


# The reports room replaces this (from create_app) with its recorder:
# fn(session, actor, conversation, score, comment) -> None, raising DomainError on bad input.
csat_hook = _no_csat


def init_app(app: Flask) -> None:
    from helpdesk.chat import online, relay, sockets, transport, views, visitors
    from helpdesk.extensions import csrf
    from helpdesk.tickets.email import outbound

    # Importing `sockets` and `orders` registered the /widget and /console handlers on the shared socketio.
    sockets.flood.burst = int(app.config["CHAT_FLOOD_BURST"])
    sockets.flood.window = float(app.config["CHAT_FLOOD_WINDOW_SECONDS"])
    app.register_blueprint(views.bp)
    csrf.exempt(views.upload)  # visitor-token authenticated, no cookies
    relay.wire(app)
    # An agent's chat answer is mailed only to a shopper who is not on the widget right now.
    if online.visitor_connected not in outbound.SHOPPER_ONLINE:
        outbound.SHOPPER_ONLINE.append(online.visitor_connected)
    # A GDPR erase also ends the customer's widget sessions (customers360 sits below chat).
    from helpdesk.customers360 import erasure

    if visitors.erase_visitors not in erasure.ERASERS:
        erasure.ERASERS.append(visitors.erase_visitors)
    app.wsgi_app = transport.NoDelay(app.wsgi_app)  # type: ignore[method-assign]
