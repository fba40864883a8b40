"""Live chat: the widget and console sockets, visitors, presence and chat assignment.

`init_app(app, runtime)` wires the room into the app. A widget's `csat:submit` is recorded
through the "csat.submit" capability the tickets room provides (CsatUnavailable without it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpdesk.errors import DomainError

if TYPE_CHECKING:
    from flask import Flask

    from helpdesk.chat.presence import FloodGate
    from helpdesk.runtime import Runtime


class CsatUnavailable(DomainError):
    status = 501
    code = "csat_unavailable"


def flood_gate(runtime: Runtime) -> FloodGate:
    """This app's per-visitor message budget (CHAT_FLOOD_BURST in CHAT_FLOOD_WINDOW_SECONDS)."""
    from helpdesk.chat.presence import FloodGate

    settings = runtime.settings
    return runtime.state("chat.flood", lambda: FloodGate(int(settings["CHAT_FLOOD_BURST"]),
                                                         float(settings["CHAT_FLOOD_WINDOW_SECONDS"])))


def init_app(app: Flask, runtime: Runtime) -> None:
    from helpdesk.chat import csat_relay, online, relay, transport, views, visitors
    from helpdesk.crm.merging import CustomerErased
    from helpdesk.extensions import csrf

    # create_app imported `sockets` (and `orders`) before socketio.init_app: the /widget and
    # /console handlers are on the shared socketio.
    app.register_blueprint(views.bp)
    csrf.exempt(views.upload)  # visitor-token authenticated, no cookies
    relay.wire(app)
    csat_relay.wire(app, runtime)  # the widget asks for and records chat CSAT
    # An agent's chat answer is mailed only to a shopper who is not on the widget right now:
    # the email room asks through this capability.
    runtime.provide("chat.shopper_online", online.shopper_online(runtime))
    # A GDPR erase (customers360.erasure) also ends the customer's widget sessions: in the erase's
    # own transaction, so a browser's token dies exactly when its customer does.
    runtime.events.subscribe_in_transaction(CustomerErased, visitors.erase_visitors)
    app.wsgi_app = transport.NoDelay(app.wsgi_app)  # type: ignore[method-assign]
