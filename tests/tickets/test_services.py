"""The conversation use cases, through the services, on the real database."""

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.actors import SYSTEM, agent_actor, customer_actor
from helpdesk.db import utcnow
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.tickets import services
from helpdesk.tickets.events import ConversationCreated, ConversationUpdated, MessagePosted
from helpdesk.tickets.models import Conversation, Message, Status
from tests.factories import make_conversation, make_inbox


@pytest.fixture
def conv(app: Flask) -> Conversation:
    inbox, _ = make_inbox(app)
    return make_conversation(app, inbox, body="First question")


@pytest.fixture
def seen(app: Flask) -> list[object]:
    events: list[object] = []
    dispatcher = app.extensions["helpdesk.dispatcher"]
    for kind in (ConversationCreated, ConversationUpdated, MessagePosted):
        dispatcher.subscribe(kind, events.append)
    return events


def test_messages_get_consecutive_sequence_numbers(app: Flask, conv: Conversation, agent: Agent) -> None:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        second = services.post_message(s, agent_actor(agent), c, body="Answer")
        third = services.post_message(s, customer_actor(c.customer), c, body="Thanks")
        assert (second.seq, third.seq, c.last_seq) == (2, 3, 3)


def test_a_message_written_without_the_unit_of_work_reads_as_stored(app: Flask, conv: Conversation,
                                                                     agent: Agent) -> None:
    # post_message writes a plain message with one INSERT and hands the session a persistent
    # object: what the transaction reads of it must be what the row holds, with no query.
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        assert [m.seq for m in c.messages] == [1]  # loaded before the post: it must not go stale
        message = services.post_message(s, agent_actor(agent), c, body=" Answer ", client_msg_id="r-1")
        assert s.get(Message, message.id) is message and message in s and not s.new and not s.dirty
        assert [m.seq for m in c.messages] == [1, 2] and message.conversation is c
        assert (message.attachments, message.call, message.delivery, message.meta) == ([], None, None, {})
        public_id = message.public_id
    with db_of(app).sessions() as s:
        stored = s.scalar(select(Message).filter_by(conversation_id=conv.id, seq=2))
        assert (stored.public_id, stored.body_text, stored.client_msg_id, stored.author_id,
                stored.author_type.value, stored.private) == (public_id, "Answer", "r-1", agent.id, "agent", False)


def test_resend_with_same_client_msg_id_stores_one_message(app: Flask, conv: Conversation) -> None:
    for _ in range(2):
        with db_of(app).unit_of_work() as s:
            c = s.get(Conversation, conv.id)
            message = services.post_message(s, customer_actor(c.customer), c, body="Hello?", client_msg_id="abc-1")
            assert message.seq == 2
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(Conversation.last_seq).filter_by(id=conv.id)) == 2
        assert len(s.scalars(select(Message).filter_by(conversation_id=conv.id)).all()) == 2


@pytest.mark.parametrize(("body", "code"), [("", "empty_body"), ("   \n ", "empty_body"),
                                            ("x" * 20_001, "body_too_long")])
def test_empty_or_oversized_body_is_refused_and_nothing_stored(app: Flask, conv: Conversation, body: str,
                                                               code: str) -> None:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        with pytest.raises(Invalid) as err:
            services.post_message(s, customer_actor(c.customer), c, body=body)
        assert err.value.code == code
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(Conversation.last_seq).filter_by(id=conv.id)) == 1


def test_only_agents_write_private_notes(app: Flask, conv: Conversation, agent: Agent) -> None:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        with pytest.raises(Forbidden):
            services.post_message(s, customer_actor(c.customer), c, body="psst", private=True)
        note = services.add_note(s, agent_actor(agent), c, body="VIP, be nice")
        assert note.private
        assert c.first_response_at is None  # a note is not a response to the customer


def test_a_customer_cannot_post_in_someone_elses_conversation(app: Flask, conv: Conversation) -> None:
    inbox, _ = make_inbox(app, name="Other")
    other = make_conversation(app, inbox, email="bob@example.com")
    with db_of(app).unit_of_work() as s:
        bob = s.get(Conversation, other.id).customer
        with pytest.raises(NotFound):
            services.post_message(s, customer_actor(bob), s.get(Conversation, conv.id), body="hijack")


def test_first_agent_reply_sets_first_response_time(app: Flask, conv: Conversation, agent: Agent) -> None:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        services.post_message(s, agent_actor(agent), c, body="Hi!")
        first = c.first_response_at
        services.post_message(s, agent_actor(agent), c, body="Anything else?")
        assert first is not None and c.first_response_at == first


def test_customer_reply_reopens_a_resolved_conversation(app: Flask, conv: Conversation, agent: Agent) -> None:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        services.set_status(s, agent_actor(agent), c, "resolved")
        assert c.resolved_at is not None
        services.post_message(s, customer_actor(c.customer), c, body="Actually, one more thing")
        assert c.status is Status.open and c.resolved_at is None


def test_assign_status_priority_and_tags_are_audited(app: Flask, conv: Conversation, agent: Agent) -> None:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        me = agent_actor(agent)
        services.assign(s, me, c, s.get(Agent, agent.id))
        services.set_priority(s, me, c, "urgent")
        services.set_tags(s, me, c, ["Refund", " vip ", "refund", ""])
        assert [t.name for t in c.tags] == ["refund", "vip"]
    with db_of(app).unit_of_work() as s:
        actions = s.scalars(select(AuditEntry.data).filter_by(target_id=conv.public_id)).all()
        changed = {key for data in actions for key in data["changes"]}
        assert changed == {"assignee", "priority", "tags"}


@pytest.mark.parametrize(("call", "code"), [
    (lambda s, a, c: services.set_status(s, a, c, "closed"), "invalid_status"),
    (lambda s, a, c: services.set_priority(s, a, c, "asap"), "invalid_priority"),
    (lambda s, a, c: services.set_tags(s, a, c, "vip"), "invalid_tags"),
    (lambda s, a, c: services.set_tags(s, a, c, ["x" * 65]), "invalid_tags"),
    (lambda s, a, c: services.set_status(s, a, c, "snoozed"), "invalid_snoozed_until"),
])
def test_bad_changes_are_refused(app: Flask, conv: Conversation, agent: Agent, call: object, code: str) -> None:
    with db_of(app).unit_of_work() as s:
        with pytest.raises(Invalid) as err:
            call(s, agent_actor(agent), s.get(Conversation, conv.id))  # type: ignore[operator]
        assert err.value.code == code


def test_snooze_needs_a_future_time(app: Flask, conv: Conversation, agent: Agent) -> None:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        services.set_status(s, agent_actor(agent), c, "snoozed", utcnow() + timedelta(hours=2))
        assert c.status is Status.snoozed and c.snoozed_until is not None


def test_events_are_dispatched_only_after_commit(app: Flask, conv: Conversation, agent: Agent,
                                                 seen: list[object]) -> None:
    with db_of(app).unit_of_work() as s:
        c = s.get(Conversation, conv.id)
        services.post_message(s, agent_actor(agent), c, body="one")
        assert seen == []  # not yet: the transaction may still roll back
    # The reply also took the unassigned conversation (tickets/assignment.py): an update follows.
    assert [type(e) for e in seen] == [MessagePosted, ConversationUpdated]


def test_events_of_a_rolled_back_transaction_are_never_dispatched(app: Flask, conv: Conversation, agent: Agent,
                                                                  seen: list[object]) -> None:
    with pytest.raises(RuntimeError), db_of(app).unit_of_work() as s:
        services.post_message(s, agent_actor(agent), s.get(Conversation, conv.id), body="lost")
        raise RuntimeError("boom")
    with db_of(app).unit_of_work() as s:
        services.set_priority(s, SYSTEM, s.get(Conversation, conv.id), "high")
    assert [type(e) for e in seen] == [ConversationUpdated]


def test_conversation_refs_are_short_unique_and_unambiguous(app: Flask) -> None:
    inbox, _ = make_inbox(app)
    refs = {make_conversation(app, inbox, email=f"c{i}@example.com").ref for i in range(20)}
    assert len(refs) == 20
    assert all(len(r) == 6 and not set(r) & set("01IO") for r in refs)


def test_subject_line_breaks_never_reach_a_header(app: Flask) -> None:
    inbox, _ = make_inbox(app)
    conv = make_conversation(app, inbox, subject="Hello\r\nBcc: victim@example.com")
    assert "\n" not in conv.subject and "\r" not in conv.subject


def test_snoozed_conversations_wake_up_when_their_time_is_up(app: Flask, conv: Conversation, agent: Agent) -> None:
    from helpdesk.tickets.snooze import wake_due

    with db_of(app).unit_of_work() as s:
        services.set_status(s, agent_actor(agent), s.get(Conversation, conv.id), "snoozed",
                            utcnow() + timedelta(hours=1))
    with db_of(app).unit_of_work() as s:
        assert wake_due(s) == 0
        s.get(Conversation, conv.id).snoozed_until = utcnow() - timedelta(seconds=1)
    with db_of(app).unit_of_work() as s:
        assert wake_due(s) == 1
        woken = s.get(Conversation, conv.id)
        assert woken.status is Status.open and woken.snoozed_until is None
