"""REST API /api/v1: token auth, error shape, cursor paging, conversations and messages."""

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent, ApiToken
from helpdesk.actors import SYSTEM
from helpdesk.tickets.models import Conversation, Inbox
from tests.factories import make_conversation, make_inbox


@pytest.fixture
def token(app: Flask, agent: Agent) -> str:
    with db_of(app).unit_of_work() as s:
        return accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests")


@pytest.fixture
def api(client: FlaskClient, token: str) -> Any:
    class Api:
        def __getattr__(self, method: str) -> Any:
            def call(path: str, **kwargs: Any) -> Any:
                headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
                return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)
            return call
    return Api()


@pytest.fixture
def inbox(app: Flask) -> Inbox:
    return make_inbox(app)[0]


def assert_error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    if code:
        assert body["error"]["code"] == code


def test_tokens_are_stored_hashed(app: Flask, token: str) -> None:
    with db_of(app).unit_of_work() as s:
        row = s.scalar(select(ApiToken))
        assert token not in (row.token_hash, row.prefix) and len(row.token_hash) == 64


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_missing_or_wrong_token_gets_401(client: FlaskClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    assert_error(client.get("/api/v1/conversations", headers=headers), 401, "invalid_token")


def test_token_of_a_disabled_agent_stops_working(app: Flask, api: Any, agent: Agent) -> None:
    assert api.get("/conversations").status_code == 200
    with db_of(app).unit_of_work() as s:
        accounts.update_agent(s, SYSTEM, s.get(Agent, agent.id), active=False)
    assert_error(api.get("/conversations"), 401)


def test_list_is_paged_by_cursor_most_recent_first(app: Flask, api: Any, inbox: Inbox) -> None:
    made = [make_conversation(app, inbox, email=f"c{i}@example.com").public_id for i in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        response = api.get("/conversations", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200
        page = response.get_json()
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))


def test_list_filters_by_status_and_assignee(app: Flask, api: Any, inbox: Inbox, agent: Agent) -> None:
    a = make_conversation(app, inbox, email="a@example.com")
    make_conversation(app, inbox, email="b@example.com")
    response = api.patch(f"/conversations/{a.public_id}", json={"assignee": agent.email, "status": "pending"})
    assert response.status_code == 200
    mine = api.get("/conversations", query_string={"assignee": agent.public_id}).get_json()["data"]
    assert [c["id"] for c in mine] == [a.public_id]
    pending = api.get("/conversations", query_string={"status": "pending"}).get_json()["data"]
    assert [c["id"] for c in pending] == [a.public_id]
    assert len(api.get("/conversations", query_string={"assignee": "none"}).get_json()["data"]) == 1


def test_patch_changes_status_priority_and_tags(app: Flask, api: Any, inbox: Inbox) -> None:
    conv = make_conversation(app, inbox)
    response = api.patch(f"/conversations/{conv.public_id}",
                         json={"status": "resolved", "priority": "high", "tags": ["refund"]})
    body = response.get_json()
    assert (body["status"], body["priority"], body["tags"]) == ("resolved", "high", ["refund"])
    assert body["resolved_at"] is not None


@pytest.mark.parametrize(("payload", "status", "code"), [
    ({"status": "closed"}, 422, "invalid_status"),
    ({"priority": 3}, 422, "invalid_priority"),
    ({"tags": "vip"}, 422, "invalid_tags"),
    ({"assignee": "ghost@example.com"}, 422, "invalid_assignee"),
    ({"subject": "renamed"}, 422, "invalid_subject"),
])
def test_bad_patch_is_refused_and_changes_nothing(app: Flask, api: Any, inbox: Inbox, payload: dict[str, Any],
                                                  status: int, code: str) -> None:
    conv = make_conversation(app, inbox)
    assert_error(api.patch(f"/conversations/{conv.public_id}", json={"priority": "urgent", **payload}), status, code)
    assert api.get(f"/conversations/{conv.public_id}").get_json()["priority"] == "normal"


def test_malformed_json_gets_400(api: Any, app: Flask, inbox: Inbox) -> None:
    conv = make_conversation(app, inbox)
    response = api.patch(f"/conversations/{conv.public_id}", data="{not json",
                         headers={"Content-Type": "application/json"})
    assert_error(response, 400, "malformed_json")
    assert_error(api.post(f"/conversations/{conv.public_id}/messages", data="[1, 2]",
                          headers={"Content-Type": "application/json"}), 400, "malformed_json")


def test_unknown_route_and_wrong_method_get_the_error_shape(api: Any, client: FlaskClient) -> None:
    assert_error(api.get("/nothing-here"), 404, "not_found")
    assert_error(api.get("/conversations/cv_unknown"), 404, "not_found")
    response = api.delete("/conversations")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    assert_error(client.get("/no/such/page", headers={"Accept": "application/json"}), 404)


def test_posting_a_message_as_the_token_agent_is_idempotent(app: Flask, api: Any, inbox: Inbox, agent: Agent) -> None:
    conv = make_conversation(app, inbox)
    for _ in range(2):
        response = api.post(f"/conversations/{conv.public_id}/messages",
                            json={"body": "On its way!", "client_msg_id": "int-1"})
        assert response.status_code == 201
        assert response.get_json()["author"] == {"type": "agent", "name": agent.name}
    messages = api.get(f"/conversations/{conv.public_id}/messages").get_json()["data"]
    assert [m["seq"] for m in messages] == [1, 2]


def test_create_conversation_for_a_new_customer(api: Any, inbox: Inbox, app: Flask) -> None:
    response = api.post("/conversations", json={"inbox": inbox.public_id, "subject": "Callback",
                                                "customer": {"email": "new@example.com", "name": "New"},
                                                "body": "Customer called about order 1002"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["customer"]["email"] == "new@example.com" and body["last_seq"] == 1
    assert_error(api.post("/conversations", json={"inbox": "nope", "customer": {"email": "x@example.com"}}), 422,
                 "invalid_inbox")
    with db_of(app).unit_of_work() as s:
        assert len(s.scalars(select(Conversation)).all()) == 1


def test_ids_in_urls_are_public_ids_not_row_numbers(api: Any, app: Flask, inbox: Inbox) -> None:
    conv = make_conversation(app, inbox)
    assert api.get(f"/conversations/{conv.id}").status_code == 404
    assert api.get(f"/conversations/{conv.public_id}").get_json()["id"] == conv.public_id


def test_openapi_describes_every_api_route(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    # Path parameters are compared by position, not by name ({id}/macros/{macro_id}).
    documented = {(re.sub(r"\{\w+\}", "{id}", path), method) for path, item in spec["paths"].items()
                  for method in item if method != "parameters"}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:\w+:)?\w+>", "{id}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {path} is not in openapi.json"
