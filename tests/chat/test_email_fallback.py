"""An agent's chat answer is mailed only to a shopper who is not on the widget right now: the chat
room tells the email room who is connected (the runtime capability "chat.shopper_online")."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from helpdesk import db_of
from helpdesk.actors import agent_actor
from helpdesk.jobs import Worker
from helpdesk.runtime import runtime_of
from helpdesk.tickets import services as tickets
from helpdesk.tickets.email import outbound
from helpdesk.tickets.models import Message
from tests.chat.conftest import Clients
from tests.conftest import make_agent
from tests.email.conftest import SmtpSink, smtp  # noqa: F401  (the SMTP sink fixture)

W = "/widget"


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp: SmtpSink) -> dict[str, Any]:  # noqa: F811
    return {**app_config, "SMTP_URL": smtp.url, "EMAIL_DOMAIN": "helpdesk.test",
            "EMAIL_FROM": "support@helpdesk.test", "CHAT_EMAIL_FALLBACK_SECONDS": 0}


def shopper_with_email(clients: Clients, site: str) -> tuple[Any, str]:
    widget = clients.widget({"site": site})
    sent = widget.emit("message:send", {"client_msg_id": "m1", "body": "Do you ship to Norway?"}, namespace=W,
                       callback=True)
    assert widget.emit("contact:update", {"email": "sam@example.com"}, namespace=W, callback=True)["ok"]
    return widget, sent["message"]["conversation_id"]


def agent_answers(app: Flask, conversation_id: str, body: str) -> int:
    agent = make_agent(app, f"alice{len(body)}@example.com")
    with db_of(app).unit_of_work() as s:
        message = tickets.post_message(s, agent_actor(agent), tickets.get_conversation(s, conversation_id), body=body)
        message_id = message.id
    Worker(runtime_of(app)).run_until_idle(max_jobs=20)
    return message_id


def test_the_chat_room_provides_its_presence_check_on_the_runtime(app: Flask) -> None:
    assert callable(runtime_of(app).capability(outbound.SHOPPER_ONLINE_CAPABILITY))


def test_a_shopper_on_the_widget_is_not_emailed(app: Flask, clients: Clients, site: str,
                                                smtp: SmtpSink) -> None:  # noqa: F811
    _widget, conversation_id = shopper_with_email(clients, site)
    message_id = agent_answers(app, conversation_id, "Yes, we do!")
    assert smtp.messages == []
    with db_of(app).sessions() as s:
        assert s.get(Message, message_id).meta.get("email_skipped") == "shopper online"


def test_a_shopper_who_left_the_widget_gets_the_answer_by_email(app: Flask, clients: Clients, site: str,
                                                                smtp: SmtpSink) -> None:  # noqa: F811
    widget, conversation_id = shopper_with_email(clients, site)
    widget.disconnect(W)
    message_id = agent_answers(app, conversation_id, "Yes, we do ship there!")
    assert len(smtp.messages) == 1
    assert smtp.parsed()["To"].addresses[0].addr_spec == "sam@example.com"
    assert "Yes, we do ship there!" in smtp.parsed().get_body(("plain",)).get_content()
    with db_of(app).sessions() as s:
        assert s.get(Message, message_id).meta.get("emailed_at")


def test_another_shoppers_open_widget_does_not_count_as_this_shopper_online(
        app: Flask, clients: Clients, site: str, smtp: SmtpSink) -> None:  # noqa: F811
    widget, conversation_id = shopper_with_email(clients, site)
    widget.disconnect(W)
    clients.widget({"site": site})  # somebody else is browsing the shop
    agent_answers(app, conversation_id, "Yes!")
    assert len(smtp.messages) == 1
