"""PostgreSQL's stored search vector: kept by the database on every write, read by every probe."""

from __future__ import annotations

import os

import pytest
from flask import Flask
from sqlalchemy import select, text

from helpdesk import db_of
from helpdesk.actors import SYSTEM
from helpdesk.crm.models import Customer
from helpdesk.customers360 import services as c360
from helpdesk.tickets import search
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox
from tests.factories import make_conversation, make_inbox

pytestmark = pytest.mark.skipif(os.environ.get("HELPDESK_TEST_DB", "sqlite") != "postgresql",
                                reason="PostgreSQL's stored vector (SQLite's FTS5 is kept in step: test_search.py)")


@pytest.fixture
def inbox(app: Flask) -> Inbox:
    return make_inbox(app)[0]


STALE = ("SELECT count(*) FROM search_entries WHERE conversation_id = :c "
         f"AND search_vector IS DISTINCT FROM {search.PG_VECTOR}")


def test_the_stored_vector_follows_every_write_of_the_text(app: Flask, inbox: Inbox) -> None:
    conv = make_conversation(app, inbox, email="vec@example.com", name="Vera Vector", subject="Bent zipper",
                             body="the zipper of order #4411 is bent")
    with db_of(app).unit_of_work() as s:
        tickets.post_message(s, SYSTEM, s.get(Conversation, conv.id), body="a new zipper is on its way")
        search.set_extra(s, conv.id, "o1", "#9931")
        s.get(Conversation, conv.id).subject = "Bent zipper, replaced"
    with db_of(app).unit_of_work() as s:
        assert s.scalar(text(STALE), {"c": conv.id}) == 0
        words = " ".join(s.scalars(text("SELECT search_vector::text FROM search_entries WHERE conversation_id = :c"),
                                   {"c": conv.id}))
        for word in ("'zipper'", "'4411'", "'9931'", "'replaced'", "'vera'", "'way'"):
            assert word in words, word
        # An UPDATE through the message trigger (what an erase does in bulk) re-derives it too.
        s.execute(text("UPDATE messages SET body_text = 'changed wording' WHERE conversation_id = :c"),
                  {"c": conv.id})
    with db_of(app).unit_of_work() as s:
        assert s.scalar(text(STALE), {"c": conv.id}) == 0
        c360.erase(s, SYSTEM, s.get(Customer, conv.customer_id))
    with db_of(app).unit_of_work() as s:
        assert s.scalar(text(STALE), {"c": conv.id}) == 0
        words = " ".join(s.scalars(text("SELECT search_vector::text FROM search_entries WHERE conversation_id = :c"),
                                   {"c": conv.id}))
        assert "zipper" not in words and "vera" not in words and "4411" not in words


def test_a_probe_reads_the_stored_vector_through_its_index_and_jit_is_off(app: Flask, inbox: Inbox) -> None:
    make_conversation(app, inbox, email="plan@example.com", body="a word to plan for")
    with db_of(app).unit_of_work() as s:
        assert s.scalar(text("SHOW jit")) == "off"  # the app's connections: no compile per query
        s.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: make the planner show the index
        probe = search.matching_ids(s, ("plan",), prefix=False)
        compiled = probe.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(s.scalars(text(f"EXPLAIN {compiled}")))
        assert "ix_search_entries_tsv" in plan, plan
        assert "regexp_replace" not in plan and "to_tsvector" not in plan, plan  # nothing recomputed
        assert list(s.scalars(select(Conversation.id).where(Conversation.id.in_(probe.scalar_subquery()))))
