"""An email customer gets the CSAT survey by mail; one click records the score."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.actors import SYSTEM
from helpdesk.tickets import services as tickets
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import Conversation
from tests.email.conftest import EmailInbox, mail, post_raw, run_jobs


def test_resolving_an_email_conversation_mails_a_survey_whose_link_records_the_score(
        app: Flask, client, inbox: EmailInbox, smtp) -> None:
    conversation_id = post_raw(client, mail(), inbox.token).get_json()["conversation_id"]
    run_jobs(app)
    before = len(smtp.messages)
    with db_of(app).unit_of_work() as s:
        conv = s.scalar(select(Conversation).filter_by(public_id=conversation_id))
        tickets.set_status(s, SYSTEM, conv, "resolved")
        ref = conv.ref
    run_jobs(app)  # the survey job, then the mail job it wrote in its transaction
    assert len(smtp.messages) == before + 1
    sent = smtp.parsed()
    assert sent["Subject"] == f"How did we do? [#{ref}]"
    assert sent["Auto-Submitted"] == "auto-replied" and sent["To"].addresses[0].addr_spec == "ann@example.com"
    html = sent.get_body(("html",)).get_content()
    links = re.findall(r'href="(http[^"]+/csat/[^"]+\?score=(\d))"', html)
    assert sorted(score for _url, score in links) == ["1", "2", "3", "4", "5"]
    five = next(url for url, score in links if score == "5").replace("&amp;", "&")
    page = client.get(five[five.index("/csat/"):])
    assert page.status_code == 200
    with db_of(app).unit_of_work() as s:
        survey = s.scalar(select(CsatSurvey))
        assert survey.score == 5 and survey.channel.value == "email"


def test_a_chat_conversation_is_not_surveyed_by_mail(app: Flask, client, inbox: EmailInbox, smtp) -> None:
    from tests.factories import make_conversation, make_inbox

    chat, _ = make_inbox(app, name="Chat", channel="chat")
    conv = make_conversation(app, chat, email="ann@example.com")
    with db_of(app).unit_of_work() as s:
        tickets.set_status(s, SYSTEM, s.get(Conversation, conv.id), "resolved")
    run_jobs(app)
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(CsatSurvey)).channel.value == "chat"
    assert smtp.messages == []
