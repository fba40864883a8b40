"""CSAT in the widget: ask the shopper when a chat's survey is created; record their answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpdesk.chat import relay
from helpdesk.tickets.csat import SurveyRequested
from helpdesk.tickets.models import Channel, Conversation

if TYPE_CHECKING:
    from flask import Flask

    from helpdesk.runtime import Runtime


def wire(app: Flask, runtime: Runtime) -> None:
    """Called by chat.init_app: the widget is asked when a chat's survey is created."""
    database = runtime.db

    def survey_requested(ev: SurveyRequested) -> None:
        if ev.channel != Channel.chat.value:
            return
        with database.unit_of_work() as session:
            conversation = session.get(Conversation, ev.conversation_id)
            emits = relay.to_shopper(session, conversation, "csat:request",
                                     {"conversation_id": conversation.public_id}) if conversation else []
        relay.send(emits)  # after the session closed: an emit may be network I/O (Redis)

    runtime.events.subscribe(SurveyRequested, survey_requested)
