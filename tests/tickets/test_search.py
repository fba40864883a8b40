"""Full-text search: message text, order numbers, #REF, erase, hostile syntax, counts per tab."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.crm.models import Customer
from helpdesk.customers360 import services as c360
from helpdesk.orders import linking
from helpdesk.orders.models import Order
from helpdesk.tickets import search
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Conversation, Inbox, SearchEntry
from tests.factories import make_conversation, make_inbox
from tests.orders.conftest import make_order


@pytest.fixture
def inbox(app: Flask) -> Inbox:
    return make_inbox(app)[0]


@pytest.fixture
def token(app: Flask, agent: Agent) -> str:
    with db_of(app).unit_of_work() as s:
        return accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests")


def find(client: FlaskClient, token: str, q: str, **params: Any) -> list[str]:
    response = client.get("/api/v1/conversations", query_string={"q": q, **params},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return [c["id"] for c in response.get_json()["data"]]


def reply(app: Flask, conv: Conversation, body: str) -> None:
    with db_of(app).unit_of_work() as s:
        tickets.post_message(s, SYSTEM, s.get(Conversation, conv.id), body=body)


def test_finds_words_said_in_any_message_newest_first(app: Flask, client: FlaskClient, token: str,
                                                     inbox: Inbox) -> None:
    older = make_conversation(app, inbox, email="a@example.com", body="The parcel arrived damaged")
    newer = make_conversation(app, inbox, email="b@example.com", body="Hello")
    reply(app, newer, "Sorry the PARCEL was late, a refund is on its way")
    other = make_conversation(app, inbox, email="c@example.com", body="Nothing to see")
    assert find(client, token, "parcel") == [newer.public_id, older.public_id]
    assert find(client, token, "parc") == [newer.public_id, older.public_id]  # words match as prefixes
    assert find(client, token, "parcel refund") == [newer.public_id]            # every word, any message
    assert find(client, token, '"refund is"') == [newer.public_id]              # a phrase
    assert find(client, token, "parcel -refund") == [older.public_id]           # an excluded word
    assert find(client, token, "see") == [other.public_id]


def test_finds_ref_subject_customer_and_linked_order_numbers(app: Flask, client: FlaskClient, token: str,
                                                             inbox: Inbox) -> None:
    conv = make_conversation(app, inbox, email="ann@shop.example", name="Ann Lovelace",
                             subject="Broken kettle", body="hi")
    make_conversation(app, inbox, email="bob@example.com", subject="Other", body="hi")
    assert find(client, token, f"#{conv.ref}") == [conv.public_id]
    assert find(client, token, conv.ref.lower()) == [conv.public_id]
    assert find(client, token, "kettle") == [conv.public_id]
    assert find(client, token, "lovelace") == [conv.public_id]
    assert find(client, token, "ann@shop.example") == [conv.public_id]
    make_order(app, 4711, "ann@shop.example")
    assert find(client, token, "4711") == []
    with db_of(app).unit_of_work() as s:
        order = s.scalar(select(Order).filter_by(number="4711"))
        linking.link_order(s, SYSTEM, s.get(Conversation, conv.id), order, source="api")
    assert find(client, token, "#4711") == [conv.public_id]
    with db_of(app).unit_of_work() as s:
        order = s.scalar(select(Order).filter_by(number="4711"))
        agent = s.scalar(select(Agent))
        from helpdesk.actors import agent_actor
        linking.unlink_order(s, agent_actor(agent), s.get(Conversation, conv.id), order)
    assert find(client, token, "4711") == []


def test_renamed_customer_and_new_subject_are_found(app: Flask, client: FlaskClient, token: str,
                                                    inbox: Inbox) -> None:
    conv = make_conversation(app, inbox, email="x@example.com", name="Old Name", subject="First")
    with db_of(app).unit_of_work() as s:
        s.get(Customer, conv.customer_id).name = "Grace Hopper"
        s.get(Conversation, conv.id).subject = "Second thoughts"
    assert find(client, token, "hopper") == [conv.public_id]
    assert find(client, token, "thoughts") == [conv.public_id]
    assert find(client, token, "old") == [] and find(client, token, "first") == []


def test_search_combines_with_filters_and_pages_by_cursor(app: Flask, client: FlaskClient, token: str,
                                                          inbox: Inbox) -> None:
    convs = [make_conversation(app, inbox, email=f"p{i}@example.com", body=f"voucher number {i}")
             for i in range(5)]
    with db_of(app).unit_of_work() as s:
        tickets.set_status(s, SYSTEM, s.get(Conversation, convs[0].id), "resolved")
    assert find(client, token, "voucher", status="resolved") == [convs[0].public_id]
    headers = {"Authorization": f"Bearer {token}"}
    first = client.get("/api/v1/conversations?q=voucher&limit=2", headers=headers).get_json()
    second = client.get(f"/api/v1/conversations?q=voucher&limit=2&cursor={first['next_cursor']}",
                        headers=headers).get_json()
    third = client.get(f"/api/v1/conversations?q=voucher&limit=2&cursor={second['next_cursor']}",
                       headers=headers).get_json()
    ids = [c["id"] for page in (first, second, third) for c in page["data"]]
    assert ids == [c.public_id for c in reversed(convs)] and third["next_cursor"] is None


@pytest.mark.parametrize("q", ['"', '""', "*", "-", "--x", "AND", "a AND", "OR OR", "NEAR(a b)", '"unclosed',
                               "'; DROP TABLE messages; --", "()", "a:b", "^x", "col:val", "{a b}", "x*y*",
                               "ü", "🙂", "%_%", "\\", "a" * 600])
def test_query_syntax_from_users_never_fails(app: Flask, client: FlaskClient, token: str, inbox: Inbox,
                                             agent_client: FlaskClient, q: str) -> None:
    make_conversation(app, inbox, body="ordinary text")
    response = client.get("/api/v1/conversations", query_string={"q": q},
                          headers={"Authorization": f"Bearer {token}"})
    if len(q) > 500:
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_q"
    else:
        assert response.status_code == 200 and isinstance(response.get_json()["data"], list)
    assert len(find(client, token, "ordinary")) == 1  # and nothing was changed
    assert agent_client.get("/console", query_string={"q": q, "view": "all"}).status_code == 200


def test_parse_keeps_only_words_phrases_and_exclusions() -> None:
    parsed = search.parse('Refund "next day" -spam AND #1001 * ann@x.io')
    assert parsed.include == [("refund",), ("next", "day"), ("1001",), ("ann", "x", "io")]
    assert parsed.exclude == [("spam",)]
    assert not search.parse('* - AND () ""')


def test_erase_removes_the_text_from_the_index(app: Flask, client: FlaskClient, token: str,
                                               inbox: Inbox) -> None:
    conv = make_conversation(app, inbox, email="erase.me@example.com", name="Zed Secret",
                             subject="Private matter", body="my passport number is XK99817")
    reply(app, conv, "thanks, noted XK99817")
    assert find(client, token, "xk99817") == [conv.public_id]
    with db_of(app).unit_of_work() as s:
        c360.erase(s, SYSTEM, s.get(Customer, conv.customer_id))
    for q in ("xk99817", "passport", "zed", "secret", "erase.me@example.com", "private"):
        assert find(client, token, q) == [], q
    with db_of(app).unit_of_work() as s:
        texts = " ".join(s.scalars(select(SearchEntry.text).filter_by(conversation_id=conv.id)))
        assert "XK99817" not in texts and "Zed" not in texts and "erase.me" not in texts
        if s.get_bind().dialect.name == "sqlite":  # the FTS index itself holds no trace of the token
            hits = s.execute(text("SELECT count(*) FROM search_fts WHERE search_fts MATCH 'xk99817'")).scalar()
            assert hits == 0
            vocab = s.execute(text("SELECT count(*) FROM search_fts_data")).scalar()
            assert vocab is not None
        else:  # nor do the stored vectors the GIN index is built from
            vectors = " ".join(s.scalars(text("SELECT search_vector::text FROM search_entries "
                                              "WHERE conversation_id = :c"), {"c": conv.id}))
            assert "xk99817" not in vectors and "zed" not in vectors and "passport" not in vectors


def test_console_search_looks_in_every_tab_and_counts_per_tab(app: Flask, agent_client: FlaskClient,
                                                               inbox: Inbox) -> None:
    done = make_conversation(app, inbox, email="d@example.com", body="blender noise")
    make_conversation(app, inbox, email="e@example.com", body="blender smoke")
    make_conversation(app, inbox, email="f@example.com", body="unrelated")
    with db_of(app).unit_of_work() as s:
        tickets.set_status(s, SYSTEM, s.get(Conversation, done.id), "resolved")
    html = agent_client.get("/console?view=all&status=open&q=blender").get_data(as_text=True)
    counts = dict(re.findall(r'data-status-count="(\w+)">(\d+)<', html))
    assert counts == {"any": "2", "open": "1", "pending": "0", "snoozed": "0", "resolved": "1"}
    # The search box itself carries no status: a new search starts in "Any status".
    anywhere = agent_client.get("/console?view=all&q=blender").get_data(as_text=True)
    assert dict(re.findall(r'data-status-count="(\w+)">(\d+)<', anywhere))["any"] == "2"
    assert done.public_id in anywhere and len(re.findall(r'class="row[ "]', anywhere)) == 2
    assert 'name="status"' not in anywhere.split('role="search"')[1].split("</form>")[0]


def test_matches_are_highlighted_and_customer_text_stays_text(app: Flask, agent_client: FlaskClient,
                                                              inbox: Inbox) -> None:
    make_conversation(app, inbox, body='<script>alert(1)</script><img src=x onerror=alert(2)> my refund please')
    html = agent_client.get("/console?view=all&q=refund").get_data(as_text=True)
    snippet = re.search(r'<div class="row-snippet[^"]*">(.*?)</div>', html, re.S).group(1)
    assert "<mark>refund</mark>" in snippet
    assert "<script>" not in snippet and "<img" not in snippet and "&lt;/script&gt;&lt;img" in snippet


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = db_of(app).engine

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("q", ["", "hello"])
def test_queue_page_statements_do_not_grow_with_rows(app: Flask, agent_client: FlaskClient, inbox: Inbox,
                                                     q: str) -> None:
    agent_client.get("/console?view=all")  # warm: login, settings
    for i in range(3):
        make_conversation(app, inbox, email=f"s{i}@example.com")
    with statements(app) as few:
        assert agent_client.get("/console", query_string={"view": "all", "q": q}).status_code == 200
    for i in range(3, 25):
        make_conversation(app, inbox, email=f"s{i}@example.com")
    with statements(app) as many:
        html = agent_client.get("/console", query_string={"view": "all", "q": q}).get_data(as_text=True)
    assert len(re.findall(r'class="row[ "]', html)) == 25
    assert len(many) == len(few), many
    assert len(many) <= 20, many


def test_view_counts_follow_the_search(app: Flask, agent_client: FlaskClient, agent: Agent, inbox: Inbox) -> None:
    mine = make_conversation(app, inbox, email="m@example.com", body="toaster sparks")
    make_conversation(app, inbox, email="n@example.com", body="toaster smoke")
    make_conversation(app, inbox, email="o@example.com", body="kettle")
    with db_of(app).unit_of_work() as s:
        tickets.assign(s, SYSTEM, s.get(Conversation, mine.id), s.get(Agent, agent.id))
    html = agent_client.get("/console?view=mine&q=toaster").get_data(as_text=True)
    views = dict(re.findall(r'data-view-count="(\w+)" data-live-count="0">(\d+)<', html))
    assert views == {"mine": "1", "unassigned": "1", "all": "2"}
    assert dict(re.findall(r'data-status-count="(\w+)">(\d+)<', html))["any"] == "1"  # the Mine view's tabs
    plain = agent_client.get("/console?view=all").get_data(as_text=True)
    assert dict(re.findall(r'data-view-count="(\w+)" data-live-count="1">(\d+)<', plain)) == \
        {"mine": "1", "unassigned": "2", "all": "3"}


def _page_statements(app: Flask, client: FlaskClient, path: str) -> int:
    with statements(app) as seen:
        assert client.get(path).status_code == 200
    return len(seen)


def test_conversation_360_and_customers_pages_do_not_grow_with_data(app: Flask, agent_client: FlaskClient,
                                                                    inbox: Inbox) -> None:
    agent_client.get("/console?view=all")
    conv = make_conversation(app, inbox, email="busy@example.com", body="first")
    with db_of(app).unit_of_work() as s:
        customer_id = s.get(Customer, conv.customer_id).public_id
    for i in range(2):
        make_conversation(app, inbox, email=f"other{i}@example.com")
    pages = [f"/console/c/{conv.public_id}", f"/console/customers/{customer_id}", "/console/customers"]
    for path in pages:
        agent_client.get(path)  # warm
    few = {path: _page_statements(app, agent_client, path) for path in pages}
    for i in range(12):
        reply(app, conv, f"reply {i}")
        make_conversation(app, inbox, email="busy@example.com", body=f"again {i}")
        make_conversation(app, inbox, email=f"more{i}@example.com")
    many = {path: _page_statements(app, agent_client, path) for path in pages}
    assert many == few


def test_a_common_word_is_answered_from_the_newest_conversations(app: Flask, agent_client: FlaskClient,
                                                                  inbox: Inbox, monkeypatch: pytest.MonkeyPatch,
                                                                  ) -> None:
    """A word in most conversations (a fifth of 10,000,000 messages at scale) is looked up in the
    newest conversations first, an index range, and its counts read "at least"; a rarer word the
    window cannot fill a page with is still found anywhere, with exact counts."""
    from helpdesk.tickets import queries

    monkeypatch.setattr(queries, "WINDOWS", {"sqlite": (3,), "postgresql": (3,)})
    monkeypatch.setattr(queries, "COUNT_WINDOWS", {"sqlite": (3,), "postgresql": (3,)})
    old = make_conversation(app, inbox, email="w0@example.com", body="refund and a gasket")
    convs = [make_conversation(app, inbox, email=f"w{i}@example.com", body=f"refund number {i}")
             for i in range(1, 6)]
    html = agent_client.get("/console?view=all&q=refund&limit=2").get_data(as_text=True)
    rows = re.findall(r'data-conversation="(cv_[\w-]+)"', html)
    assert rows[:2] == [convs[-1].public_id, convs[-2].public_id]
    counts = dict(re.findall(r'data-status-count="(\w+)">(\d+\+?)<', html))
    assert counts["any"] == "3+" and counts["open"] == "3+"   # the newest three: there may be more
    assert "<mark>refund</mark>" in html
    # Not enough in the window for a page: the whole index, exact counts.
    html = agent_client.get("/console?view=all&q=gasket&limit=2").get_data(as_text=True)
    assert old.public_id in html
    assert dict(re.findall(r'data-status-count="(\w+)">(\d+\+?)<', html))["any"] == "1"
    html = agent_client.get("/console?view=all&q=refund&limit=10").get_data(as_text=True)
    assert dict(re.findall(r'data-status-count="(\w+)">(\d+\+?)<', html))["any"] == "6"


def test_a_word_found_whole_is_matched_whole_and_a_star_asks_for_more(app: Flask, client: FlaskClient,
                                                                      token: str, inbox: Inbox) -> None:
    whole = make_conversation(app, inbox, email="r1@example.com", body="I want a refund")
    longer = make_conversation(app, inbox, email="r2@example.com", body="You refunded me twice")
    assert find(client, token, "refund") == [whole.public_id]     # the word itself: one seek in the index
    assert find(client, token, "refund*") == [longer.public_id, whole.public_id]
    assert find(client, token, "refu") == [longer.public_id, whole.public_id]  # no such word: a prefix
    assert find(client, token, "twice refu") == [longer.public_id]
