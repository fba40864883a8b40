"""CSAT surveys: asked on resolve, frozen at sending, answered once by the customer only."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk import db_of
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM, agent_actor, customer_actor
from helpdesk.db import utcnow
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.jobs import Job, Worker
from helpdesk.runtime import runtime_of
from helpdesk.tickets import csat
from helpdesk.tickets import services as tickets
from helpdesk.tickets.csat_models import CsatSurvey
from helpdesk.tickets.models import Conversation, Inbox, Team
from tests.conftest import login
from tests.factories import make_conversation, make_inbox

SECRET = "test-secret-key"  # the app fixture's SECRET_KEY


@pytest.fixture
def requested(app: Flask) -> list[csat.SurveyRequested]:
    seen: list[csat.SurveyRequested] = []
    app.extensions["helpdesk.dispatcher"].subscribe(csat.SurveyRequested, seen.append)
    return seen


def resolve(app: Flask, conversation: Conversation, agent: Agent | None = None,
            team: Team | None = None) -> None:
    with db_of(app).unit_of_work() as s:
        conv = s.get(Conversation, conversation.id)
        if agent is not None:
            tickets.assign(s, SYSTEM, conv, s.get(Agent, agent.id), team)
        tickets.set_status(s, SYSTEM, conv, "resolved")


def run_jobs(app: Flask) -> int:
    return Worker(runtime_of(app)).run_until_idle(max_jobs=50)


def email_survey(app: Flask, agent: Agent, **settings: Any) -> CsatSurvey:
    inbox, _ = make_inbox(app, "Support mail", "email", "support@shop.example")
    if settings:
        with db_of(app).unit_of_work() as s:
            # make_conversation merges the inbox it is given: hand it the updated one.
            inbox = s.get(Inbox, inbox.id)
            inbox.settings = {"csat": settings}
    conv = make_conversation(app, inbox, subject="Parcel <b>late</b>")
    resolve(app, conv, agent)
    run_jobs(app)
    with db_of(app).unit_of_work() as s:
        survey = s.scalar(select(CsatSurvey).filter_by(conversation_id=conv.id))
        assert survey is not None
        s.expunge(survey)
        return survey


def fresh(app: Flask, survey_id: int) -> CsatSurvey:
    """The stored survey, read in a transaction of its own (the test's session stays idle)."""
    with db_of(app).unit_of_work() as s:
        survey = s.get(CsatSurvey, survey_id)
        s.expunge(survey)
        return survey


def load(session: Session, survey_id: int) -> CsatSurvey:
    """A fresh read. Tests that write through the app afterwards roll `session` back first: on
    SQLite every transaction takes the write lock."""
    session.rollback()
    return session.get(CsatSurvey, survey_id)


# -- requesting -----------------------------------------------------------------------------------

def test_resolving_sends_one_survey_that_keeps_agent_team_and_inbox_of_that_moment(
        app: Flask, session: Session, agent: Agent, requested: list[csat.SurveyRequested]) -> None:
    inbox, _ = make_inbox(app)
    with db_of(app).unit_of_work() as s:
        team = tickets.create_team(s, SYSTEM, name="Tier 1")
    conv = make_conversation(app, inbox)
    resolve(app, conv, agent, team)
    assert session.scalar(select(func.count(Job.id)).filter_by(kind=csat.SEND_JOB)) == 1
    session.rollback()  # SQLite: a reading transaction would hold the write lock the worker needs
    assert run_jobs(app) == 1
    survey = session.scalar(select(CsatSurvey))
    assert (survey.agent_id, survey.team_id, survey.inbox_id, survey.channel.value) == (
        agent.id, team.id, inbox.id, "chat")
    assert requested == [csat.SurveyRequested(survey.id, conv.id, "chat")]
    survey_id = survey.id
    session.rollback()
    # Reassigning afterwards does not move the score to someone else.
    with db_of(app).unit_of_work() as s:
        tickets.assign(s, SYSTEM, s.get(Conversation, conv.id), None, None)
    assert fresh(app, survey_id).agent_id == agent.id


def test_a_second_resolve_or_a_retried_job_never_asks_twice(app: Flask, session: Session,
                                                            agent: Agent) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    resolve(app, conv, agent)
    run_jobs(app)
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        tickets.set_status(s, SYSTEM, c, "open")
        tickets.set_status(s, SYSTEM, c, "resolved")
    csat.send_survey_job(runtime_of(app).context(), {"conversation_id": conv.id})  # a redelivered job
    run_jobs(app)
    assert session.scalar(select(func.count(CsatSurvey.id))) == 1


def test_an_inbox_with_surveys_off_sends_none(app: Flask, session: Session, agent: Agent,
                                              admin: Agent) -> None:
    inbox, _ = make_inbox(app)
    with db_of(app).unit_of_work() as s:
        inbox = s.get(Inbox, inbox.id)
        csat.update_inbox_settings(s, agent_actor(s.get(Agent, admin.id)), inbox, enabled=False,
                                   delay_minutes=0, question="")
    conv = make_conversation(app, inbox)
    resolve(app, conv, agent)
    run_jobs(app)
    assert session.scalar(select(func.count(CsatSurvey.id))) == 0


def test_the_delay_postpones_the_survey_and_a_reopened_conversation_is_not_asked(
        app: Flask, session: Session, agent: Agent) -> None:
    inbox, _ = make_inbox(app)
    with db_of(app).unit_of_work() as s:
        inbox = s.get(Inbox, inbox.id)
        inbox.settings = {"csat": {"delay_minutes": 30, "question": "Happy?"}}
    conv = make_conversation(app, inbox)
    resolve(app, conv, agent)
    job_id, run_at = session.execute(select(Job.id, Job.run_at).filter_by(kind=csat.SEND_JOB)).one()
    session.rollback()
    assert run_at > utcnow() + timedelta(minutes=29)
    assert run_jobs(app) == 0  # not due yet
    with db_of(app).unit_of_work() as s:
        tickets.set_status(s, SYSTEM, s.get(Conversation, conv.id), "open")
        s.get(Job, job_id).run_at = utcnow()
    run_jobs(app)
    assert session.scalar(select(func.count(CsatSurvey.id))) == 0


def test_survey_settings_are_validated_and_need_an_admin(app: Flask, session: Session, agent: Agent,
                                                         admin: Agent) -> None:
    inbox, _ = make_inbox(app)
    ib = session.get(Inbox, inbox.id)
    with pytest.raises(Forbidden):
        csat.update_inbox_settings(session, agent_actor(agent), ib, enabled=True, delay_minutes=0,
                                   question="")
    for bad in (-1, "soon", 10_081):
        with pytest.raises(Invalid):
            csat.update_inbox_settings(session, agent_actor(admin), ib, enabled=True, delay_minutes=bad,
                                       question="")
    settings = csat.update_inbox_settings(session, agent_actor(admin), ib, enabled=True, delay_minutes="15",
                                          question="  How  did we do? ")
    assert (settings.delay_minutes, settings.question) == (15, "How did we do?")


# -- answering ------------------------------------------------------------------------------------

def test_the_customer_answers_and_a_changed_score_within_the_window_replaces_the_first(
        app: Flask, session: Session, agent: Agent) -> None:
    survey = load(session, email_survey(app, agent).id)
    customer = customer_actor(survey.conversation.customer)
    csat.submit_score(session, customer, survey, 2, "slow")
    first = survey.first_answered_at
    csat.submit_score(session, customer, survey, "4", None)
    assert (survey.score, survey.comment, survey.first_answered_at) == (4, "slow", first)
    survey.first_answered_at = utcnow() - timedelta(hours=25)
    with pytest.raises(Conflict) as err:
        csat.submit_score(session, customer, survey, 5, None)
    assert err.value.code == "survey_closed" and survey.score == 4


@pytest.mark.parametrize("score", [0, 6, -1, "abc", None, 4.5, True, "", "3; drop"])
def test_a_score_outside_1_to_5_is_refused_and_changes_nothing(app: Flask, session: Session, agent: Agent,
                                                               score: Any) -> None:
    survey = load(session, email_survey(app, agent).id)
    with pytest.raises(Invalid) as err:
        csat.submit_score(session, customer_actor(survey.conversation.customer), survey, score, "x")
    assert err.value.code == "invalid_score"
    assert (survey.score, survey.comment, survey.answered_at) == (None, "", None)


def test_an_agent_or_another_customer_cannot_answer(app: Flask, session: Session, agent: Agent) -> None:
    survey = load(session, email_survey(app, agent).id)
    with pytest.raises(Forbidden) as err:
        csat.submit_score(session, agent_actor(agent), survey, 5, None)
    assert err.value.code == "agent_cannot_answer"
    stranger = customer_actor(type("C", (), {"id": survey.conversation.customer_id + 99, "name": "X"})())
    with pytest.raises(NotFound):
        csat.submit_score(session, stranger, survey, 5, None)
    assert survey.score is None


def test_the_widget_answers_through_the_conversation(app: Flask, session: Session, agent: Agent) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox)
    c = session.get(Conversation, conv.id)
    with pytest.raises(NotFound):
        csat.submit_for_conversation(session, customer_actor(c.customer), c, 5)
    session.rollback()
    resolve(app, conv, agent)
    run_jobs(app)
    survey = csat.submit_for_conversation(session, customer_actor(c.customer), c, 5, "Great")
    assert (survey.score, survey.comment) == (5, "Great")


# -- the email and its links ----------------------------------------------------------------------

def test_the_survey_email_has_one_signed_link_per_score(app: Flask, session: Session, agent: Agent) -> None:
    survey = load(session, email_survey(app, agent).id)
    subject, text, html = csat.survey_email(survey, secret_key=SECRET, base_url="http://localhost")
    assert subject == f"How did we do? [#{survey.conversation.ref}]"
    links = re.findall(r"http://localhost/csat/([\w.\-]+)\?score=(\d)", text)
    assert sorted(int(s) for _, s in links) == [1, 2, 3, 4, 5]
    assert len({t for t, _ in links}) == 1
    assert "Parcel &lt;b&gt;late&lt;/b&gt;" in html and "<b>late</b>" not in html
    assert html.count("/csat/") == 5


def test_one_click_records_the_score_and_opens_the_comment_page(app: Flask, client: FlaskClient,
                                                                session: Session, agent: Agent) -> None:
    survey = email_survey(app, agent)
    token = csat.link_token(survey, SECRET)
    response = client.get(f"/csat/{token}?score=4")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Thank you for your feedback" in page and 'data-score="4"' in page
    assert response.headers["Cache-Control"] == "no-store"
    assert fresh(app, survey.id).score == 4
    form_token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
    # No cookie needed (mail apps open links in bare browsers): the signed form token is the key.
    posted = app.test_client().post("/csat/answer", data={"form_token": form_token, "score": "3",
                                                          "comment": "Took a while"})
    assert posted.status_code == 200 and "Thanks, we got it" in posted.get_data(as_text=True)
    stored = fresh(app, survey.id)
    assert (stored.score, stored.comment) == (3, "Took a while")


def test_a_reused_link_is_refused(app: Flask, client: FlaskClient, session: Session, agent: Agent) -> None:
    survey = email_survey(app, agent)
    token = csat.link_token(survey, SECRET)
    assert client.get(f"/csat/{token}?score=5").status_code == 200
    again = client.get(f"/csat/{token}?score=1")
    assert again.status_code == 410 and 'data-error="token_used"' in again.get_data(as_text=True)
    assert fresh(app, survey.id).score == 5


def test_a_forged_link_is_refused(app: Flask, client: FlaskClient, session: Session, agent: Agent) -> None:
    survey = email_survey(app, agent)
    forged = URLSafeTimedSerializer("not-the-secret", salt=csat.LINK_SALT).dumps(
        [survey.public_id, survey.nonce])
    tampered = csat.link_token(survey, SECRET)[:-3] + "abc"
    for token in (forged, tampered, "garbage"):
        response = client.get(f"/csat/{token}?score=5")
        assert response.status_code == 404
        assert 'data-error="invalid_token"' in response.get_data(as_text=True)
    assert fresh(app, survey.id).score is None


def test_an_expired_link_is_refused(app: Flask, client: FlaskClient, session: Session, agent: Agent) -> None:
    survey = email_survey(app, agent)

    class SignedLongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 40 * 86400

    old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=csat.LINK_SALT,
                                 signer=SignedLongAgo).dumps([survey.public_id, survey.nonce])
    assert client.get(f"/csat/{old}?score=5").status_code == 410
    token = csat.link_token(survey, SECRET)
    with db_of(app).unit_of_work() as s:
        s.get(CsatSurvey, survey.id).expires_at = utcnow() - timedelta(minutes=1)
    response = client.get(f"/csat/{token}?score=5")
    assert response.status_code == 410 and 'data-error="token_expired"' in response.get_data(as_text=True)
    assert fresh(app, survey.id).score is None


@pytest.mark.parametrize("score", ["0", "6", "five", ""])
def test_a_bad_score_in_the_link_is_refused_and_leaves_the_link_usable(
        app: Flask, client: FlaskClient, session: Session, agent: Agent, score: str) -> None:
    survey = email_survey(app, agent)
    token = csat.link_token(survey, SECRET)
    response = client.get(f"/csat/{token}?score={score}")
    assert response.status_code == 422 and 'data-error="invalid_score"' in response.get_data(as_text=True)
    picker = client.get(f"/csat/{token}")  # no score at all: the customer picks one
    assert picker.status_code == 200 and picker.get_data(as_text=True).count("data-pick=") == 5
    assert fresh(app, survey.id).link_used_at is None
    assert client.get(f"/csat/{token}?score=3").status_code == 200


def test_an_agent_signed_in_cannot_answer_for_the_customer(app: Flask, client: FlaskClient, session: Session,
                                                           agent: Agent) -> None:
    survey = email_survey(app, agent)
    token = csat.link_token(survey, SECRET)
    login(client, agent.email)
    response = client.get(f"/csat/{token}?score=5")
    assert response.status_code == 403
    assert 'data-error="agent_cannot_answer"' in response.get_data(as_text=True)
    stored = fresh(app, survey.id)
    assert (stored.score, stored.link_used_at) == (None, None)  # the customer's own click still works


def test_a_forged_form_token_cannot_comment(app: Flask, client: FlaskClient, agent: Agent) -> None:
    survey = email_survey(app, agent)
    client.get(f"/csat/{csat.link_token(survey, SECRET)}?score=4")
    forged = URLSafeTimedSerializer("guess", salt=csat.FORM_SALT).dumps([survey.public_id, survey.nonce])
    response = client.post("/csat/answer", data={"form_token": forged, "score": "1", "comment": "spam"})
    assert response.status_code == 404
    stored = fresh(app, survey.id)
    assert (stored.score, stored.comment) == (4, "")
    # A link token is not a form token either (the salts differ).
    response = client.post("/csat/answer", data={"form_token": csat.link_token(survey, SECRET), "score": "1"})
    assert response.status_code == 404


def test_a_channel_listener_writes_its_delivery_job_in_the_surveys_transaction(app: Flask, session: Session,
                                                                              agent: Agent) -> None:
    def mail_job(s: Session, ev: csat.SurveyRequested) -> None:
        from helpdesk import jobs

        jobs.enqueue(s, "test.csat_mail", {"survey_id": ev.survey_id})

    # This app's dispatcher only: nothing to undo afterwards.
    runtime_of(app).events.subscribe_in_transaction(csat.SurveyRequested, mail_job)
    survey = email_survey(app, agent)
    job = session.scalar(select(Job).filter_by(kind="test.csat_mail"))
    assert job is not None and job.payload == {"survey_id": survey.id}
