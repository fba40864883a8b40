"""REST /api/v1 business hours and SLA policies, and the `sla` of a conversation."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent, AuditEntry
from helpdesk.actors import SYSTEM
from helpdesk.tickets.sla.models import BusinessHours, SlaPolicy
from tests.api.test_conversations import assert_error
from tests.factories import make_conversation, make_inbox

WEEK = {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "fri": [["09:00", "15:00"]]}


def _api(client: FlaskClient, token: str) -> Any:
    class Api:
        def __getattr__(self, method: str) -> Any:
            def call(path: str, **kwargs: Any) -> Any:
                return getattr(client, method)(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"},
                                               **kwargs)
            return call
    return Api()


@pytest.fixture
def api(app: Flask, client: FlaskClient, admin: Agent) -> Any:
    with db_of(app).unit_of_work() as s:
        return _api(client, accounts.create_api_token(s, SYSTEM, s.get(Agent, admin.id), "tests"))


@pytest.fixture
def agent_api(app: Flask, client: FlaskClient, agent: Agent) -> Any:
    with db_of(app).unit_of_work() as s:
        return _api(client, accounts.create_api_token(s, SYSTEM, s.get(Agent, agent.id), "tests"))


def test_create_business_hours_and_a_policy_then_a_conversation_carries_its_sla(app: Flask, api: Any) -> None:
    inbox = make_inbox(app)[0]
    r = api.post("/business-hours", json={"name": "Berlin", "timezone": "Europe/Berlin", "hours": WEEK,
                                          "holidays": ["2026-12-25"]})
    assert r.status_code == 201, r.get_json()
    hours = r.get_json()
    assert hours["id"].startswith("bh_") and hours["hours"] == WEEK and hours["holidays"] == ["2026-12-25"]
    assert api.get("/business-hours").get_json()["data"][0]["id"] == hours["id"]

    r = api.post("/sla-policies", json={"name": "Gold", "business_hours": hours["id"],
                                        "match": {"inbox": inbox.public_id, "priority": "high"},
                                        "targets": {"first_response_minutes": 60, "resolution_minutes": 480}})
    assert r.status_code == 201, r.get_json()
    gold = r.get_json()
    assert gold["position"] == 0 and gold["match"] == {"inbox": inbox.public_id, "priority": ["high"]}
    r = api.post("/sla-policies", json={"name": "Basic", "targets": {"first_response_minutes": 1440}})
    assert r.get_json()["position"] == 1 and r.get_json()["business_hours"] is None

    conv = make_conversation(app, inbox)
    body = api.get(f"/conversations/{conv.public_id}").get_json()
    assert body["sla"]["policy"]["name"] == "Basic" and body["sla"]["breached"] == []
    assert body["sla"]["first_response_due_at"].endswith("Z") and body["sla"]["next_response_due_at"] is None

    body = api.patch(f"/conversations/{conv.public_id}", json={"priority": "high"}).get_json()
    assert body["sla"]["policy"] == {"id": gold["id"], "name": "Gold"}
    assert set(body["sla"]) == {"policy", "first_response_due_at", "next_response_due_at", "resolution_due_at",
                                "paused", "breached"}

    r = api.patch(f"/sla-policies/{gold['id']}", json={"match": {"priority": ["urgent"]}})
    assert r.status_code == 200 and r.get_json()["match"] == {"priority": ["urgent"]}
    assert api.delete(f"/sla-policies/{gold['id']}").status_code == 204
    assert_error(api.get(f"/sla-policies/{gold['id']}"), 404)


def test_a_conversation_without_a_policy_has_sla_null(app: Flask, api: Any) -> None:
    conv = make_conversation(app, make_inbox(app)[0])
    assert api.get(f"/conversations/{conv.public_id}").get_json()["sla"] is None


@pytest.mark.parametrize("hours", [
    {"mon": [["09:00", "17:00"], ["16:00", "18:00"]]},   # overlapping
    {"mon": [["17:00", "09:00"]]},                       # ends before it starts
    {"mon": [["09:00", "25:00"]]},                       # impossible time
    {"moonday": [["09:00", "17:00"]]},                   # unknown weekday
    {"mon": "9-5"},
    "always",
])
def test_impossible_hours_are_422_and_nothing_is_stored(app: Flask, api: Any, hours: Any) -> None:
    assert_error(api.post("/business-hours", json={"name": "Bad", "timezone": "Europe/Berlin", "hours": hours}),
                 422, "invalid_hours")
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(BusinessHours)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action.like("business_hours%"))) == 0


def test_bad_time_zone_date_and_policy_are_422(app: Flask, api: Any) -> None:
    assert_error(api.post("/business-hours", json={"name": "X", "timezone": "Moon/Base", "hours": WEEK}),
                 422, "invalid_timezone")
    assert_error(api.post("/business-hours", json={"name": "X", "timezone": "UTC", "hours": WEEK,
                                                   "holidays": ["2026-13-01"]}), 422, "invalid_holidays")
    assert_error(api.post("/sla-policies", json={"name": "X", "targets": {"first_response_minutes": -5}}),
                 422, "invalid_first_response_minutes")
    assert_error(api.post("/sla-policies", json={"name": "X", "match": {"weather": "rain"},
                                                 "targets": {"first_response_minutes": 5}}), 422, "invalid_match")
    with db_of(app).unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(SlaPolicy)) == 0


def test_only_admins_write_and_names_are_unique(app: Flask, api: Any, agent_api: Any) -> None:
    assert_error(agent_api.post("/sla-policies", json={"name": "X", "targets": {"first_response_minutes": 5}}),
                 403)
    assert agent_api.get("/sla-policies").status_code == 200
    assert api.post("/sla-policies", json={"name": "X", "targets": {"first_response_minutes": 5}}).status_code == 201
    assert_error(api.post("/sla-policies", json={"name": "X", "targets": {"first_response_minutes": 5}}), 409)
    bh = api.post("/business-hours", json={"name": "Office", "timezone": "UTC", "hours": WEEK}).get_json()
    api.post("/sla-policies", json={"name": "Y", "business_hours": bh["id"],
                                    "targets": {"first_response_minutes": 5}})
    assert_error(api.delete(f"/business-hours/{bh['id']}"), 409, "business_hours_in_use")


def test_patching_business_hours_validates_and_keeps_what_is_not_given(app: Flask, api: Any) -> None:
    bh = api.post("/business-hours", json={"name": "Office", "timezone": "UTC", "hours": WEEK}).get_json()
    r = api.patch(f"/business-hours/{bh['id']}", json={"holidays": ["2026-12-24"]})
    assert r.status_code == 200 and r.get_json()["hours"] == WEEK and r.get_json()["holidays"] == ["2026-12-24"]
    assert_error(api.patch(f"/business-hours/{bh['id']}", json={"hours": {"mon": [["10:00", "09:00"]]}}), 422)
    assert_error(api.patch(f"/business-hours/{bh['id']}", json={"colour": "red"}), 422, "invalid_colour")
    assert api.get(f"/business-hours/{bh['id']}").get_json()["holidays"] == ["2026-12-24"]


def test_the_conversation_list_sorts_by_due_time(app: Flask, api: Any) -> None:
    inbox = make_inbox(app)[0]
    api.post("/sla-policies", json={"name": "Urgent", "match": {"priority": "urgent"},
                                    "targets": {"first_response_minutes": 5}})
    api.post("/sla-policies", json={"name": "Urgent-ish", "match": {"priority": "high"},
                                    "targets": {"first_response_minutes": 50}})
    convs = [make_conversation(app, inbox, email=f"c{i}@example.com") for i in range(4)]
    api.patch(f"/conversations/{convs[1].public_id}", json={"priority": "urgent"})
    api.patch(f"/conversations/{convs[2].public_id}", json={"priority": "high"})
    first = api.get("/conversations?sort=due&limit=2").get_json()
    rest = api.get(f"/conversations?sort=due&limit=2&cursor={first['next_cursor']}").get_json()
    # Those without a due time last, by latest activity (the queue's usual order, an index range).
    assert [c["id"] for c in first["data"] + rest["data"]] == [convs[1].public_id, convs[2].public_id,
                                                              convs[3].public_id, convs[0].public_id]
    assert rest["next_cursor"] is None
    assert_error(api.get("/conversations?sort=soonest"), 422, "invalid_sort")
