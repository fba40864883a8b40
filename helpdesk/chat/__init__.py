"""Live chat: the widget and console sockets, visitors, presence and chat assignment.

`init_app(app, runtime)` wires the room into the app. A widget's `csat:submit` is recorded
through the "csat.submit" capability the tickets room provides (CsatUnavailable without it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpdesk.errors import DomainError

if TYPE_CHECKING:
    from flask import Flask

    from helpdesk.runtime import Runtime


class CsatUnavailable(DomainError):
    status = 501
    code = "csat_unavailable"


def init_app(app: Flask, runtime: Runtime) -> None:
    from helpdesk.chat import csat_relay, online, relay, state, transport, views, visitors
    from helpdesk.crm.merging import CustomerErased
    from helpdesk.extensions import csrf

    # create_app imported `sockets` (and `orders`) before socketio.init_app: the /widget and
    # /console handlers are on the shared socketio. Presence, viewers and rate limits: in Redis
    # when it is set (every process sees the same), else memory.
    state.init_state(app)
    app.register_blueprint(views.bp)
    csrf.exempt(views.upload)  # visitor-token authenticated, no cookies
    relay.wire(app)
    csat_relay.wire(app, runtime)  # the widget asks for and records chat CSAT
    # An agent's chat answer is mailed only to a shopper who is not on the widget right now:
    # the email room asks through this capability.
    runtime.provide("chat.shopper_online", online.shopper_online(runtime))
    from helpdesk.chat import context

    runtime.panels.add("conversation.sidebar", "visitor", context.sidebar_data, "chat/_visitor_panel.html")
    from helpdesk.accounts.events import AgentAccessChanged
    from helpdesk.chat import alerts, sockets

    alerts.wire(runtime)  # new assignment, a reply on my conversation, an @mention: the agent's own room
    # Logout, disable, password or role change: the agent's live sockets close (security).
    runtime.events.subscribe(AgentAccessChanged, sockets.end_agent_sockets)
    # A GDPR erase (customers360.erasure) also ends the customer's widget sessions: in the erase's
    # own transaction, so a browser's token dies exactly when its customer does.
    runtime.events.subscribe_in_transaction(CustomerErased, visitors.erase_visitors)
    app.wsgi_app = transport.NoDelay(app.wsgi_app)  # type: ignore[method-assign]
    app.session_interface = transport.SocketSessions()
