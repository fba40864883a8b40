"""Listeners inside the transaction write their jobs with the change; after-commit ones see only commits."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of, jobs
from helpdesk.actors import SYSTEM
from helpdesk.jobs import Job
from helpdesk.tickets import services
from helpdesk.tickets.events import ConversationUpdated
from helpdesk.tickets.models import Conversation
from tests.factories import make_conversation, make_inbox


@pytest.fixture
def conv(app: Flask) -> Conversation:
    inbox, _ = make_inbox(app)
    return make_conversation(app, inbox)


@pytest.fixture
def in_transaction(app: Flask) -> list[Any]:
    seen: list[Any] = []

    def write_job(session: Any, ev: ConversationUpdated) -> None:
        seen.append(ev)
        jobs.enqueue(session, "test.follow_up", {"conversation_id": ev.conversation_id})

    app.extensions["helpdesk.dispatcher"].subscribe_in_transaction(ConversationUpdated, write_job)
    return seen


def job_count(app: Flask) -> int:
    with db_of(app).unit_of_work() as s:
        return len(s.scalars(select(Job).filter_by(kind="test.follow_up")).all())


def test_the_job_is_committed_with_the_change(app: Flask, conv: Conversation, in_transaction: list[Any]) -> None:
    with db_of(app).unit_of_work() as s:
        services.set_priority(s, SYSTEM, s.get(Conversation, conv.id), "high")
    assert len(in_transaction) == 1 and job_count(app) == 1


def test_a_rolled_back_change_leaves_no_job(app: Flask, conv: Conversation, in_transaction: list[Any]) -> None:
    with pytest.raises(RuntimeError), db_of(app).unit_of_work() as s:
        services.set_priority(s, SYSTEM, s.get(Conversation, conv.id), "high")
        s.flush()
        raise RuntimeError("the change failed")
    assert job_count(app) == 0


def test_a_savepoint_does_not_run_the_listener_twice(app: Flask, conv: Conversation,
                                                     in_transaction: list[Any]) -> None:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        services.set_priority(s, SYSTEM, c, "high")
        with s.begin_nested():
            services.set_tags(s, SYSTEM, c, ["vip"])
    assert len(in_transaction) == 2 and job_count(app) == 2  # one per change, none twice
