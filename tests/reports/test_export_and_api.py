"""The CSV export, the REST endpoints and who may read the reports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from helpdesk import db_of
from helpdesk.accounts import services as accounts
from helpdesk.accounts.models import Agent
from helpdesk.actors import SYSTEM
from helpdesk.orders.models import ConversationOrder, LinkState, Order
from helpdesk.reports.export import escape_cell
from tests.conftest import login
from tests.reports.dataset import Dataset, build

RANGE = "from=2026-03-01&to=2026-03-03"


@pytest.fixture
def data(session: Session) -> Dataset:
    ds = build(session)
    session.commit()
    return ds


def token_for(app: Flask, agent: Agent) -> dict[str, str]:
    with db_of(app).unit_of_work() as s:
        token = accounts.create_api_token(s, SYSTEM, s.merge(agent), "reports")
    return {"Authorization": f"Bearer {token}"}


def read_csv(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("cell, expected", [
    ("=1+1", "'=1+1"), ("+31 6", "'+31 6"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("fine", "fine"), (-5, -5), ("", ""),
])
def test_cells_that_a_spreadsheet_would_run_as_formulas_are_escaped(cell: object, expected: object) -> None:
    assert escape_cell(cell) == expected


def test_csv_has_one_row_per_conversation_of_the_period_with_times_agent_and_score(
        app: Flask, client: FlaskClient, manager: Agent, data: Dataset) -> None:
    login(client, manager.email)
    response = client.get(f"/reports/conversations.csv?{RANGE}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response.get_data(as_text=True))
    assert [r["ref"] for r in rows] == ["C1XXXX", "C2XXXX", "C3XXXX", "C4XXXX", "C5XXXX"]
    c1 = rows[0]
    assert (c1["channel"], c1["agent"], c1["team"], c1["inbox"]) == ("chat", "Alice", "T1", "Chat")
    assert (c1["created_at"], c1["first_response_at"], c1["resolved_at"]) == (
        "2026-03-01T09:00:00Z", "2026-03-01T09:01:00Z", "2026-03-01T10:00:00Z")
    assert (c1["first_response_seconds"], c1["resolution_seconds"]) == ("60", "3600")
    assert c1["agent_replies"] == "2"
    assert (c1["csat_score"], c1["csat_agent"], c1["linked_orders"]) == ("5", "Alice", "")
    # The shopper's comment starts with "=": it arrives as text, not as a formula.
    assert rows[1]["csat_comment"].startswith("'=HYPERLINK")
    assert rows[4]["agent"] == "" and rows[4]["first_response_at"] == ""


def test_csv_lists_the_orders_linked_to_each_conversation(app: Flask, client: FlaskClient, manager: Agent,
                                                          session: Session, data: Dataset) -> None:
    c1 = data.conversations["c1"]
    placed = datetime(2026, 3, 1, 8, tzinfo=UTC)
    orders = [Order(platform="shopify", shop="shop.example", order_id=str(n), number=str(n), name=f"#{n}",
                    customer_id=c1.customer_id, total=Decimal("30"), placed_at=placed + timedelta(minutes=n - 1000),
                    platform_updated_at=placed) for n in (1001, 1002, 1003)]
    session.add_all(orders)
    session.flush()
    session.add_all([ConversationOrder(conversation_id=c1.id, order_id=orders[0].id),
                     ConversationOrder(conversation_id=c1.id, order_id=orders[1].id),
                     # offered but not taken by the agent: not a linked order
                     ConversationOrder(conversation_id=c1.id, order_id=orders[2].id, state=LinkState.suggested)])
    session.commit()
    login(client, manager.email)
    rows = read_csv(client.get(f"/reports/conversations.csv?{RANGE}").get_data(as_text=True))
    assert rows[0]["linked_orders"] == "#1001 #1002"
    assert rows[1]["linked_orders"] == ""


def test_api_summary_groups_by_agent_for_a_manager_token(app: Flask, client: FlaskClient, manager: Agent,
                                                       data: Dataset) -> None:
    response = client.get(f"/api/v1/reports/summary?{RANGE}&group_by=agent", headers=token_for(app, manager))
    assert response.status_code == 200
    body = response.get_json()
    assert body["totals"]["conversations_created"] == 5 and body["group_by"] == "agent"
    assert {g["label"] for g in body["groups"]} == {"Alice", "Bob", "Unassigned"}
    by_day = client.get(f"/api/v1/reports/summary?{RANGE}&group_by=day", headers=token_for(app, manager))
    assert [g["key"] for g in by_day.get_json()["groups"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]


def test_api_csv_export_streams_the_same_rows(app: Flask, client: FlaskClient, manager: Agent,
                                              data: Dataset) -> None:
    response = client.get(f"/api/v1/reports/conversations.csv?{RANGE}&channel=email",
                          headers=token_for(app, manager))
    assert response.status_code == 200
    assert [r["ref"] for r in read_csv(response.get_data(as_text=True))] == ["C3XXXX", "C4XXXX"]
    # The body streams after the request ended: its own session is closed when it is done.
    assert db_of(app).engine.pool.checkedout() == 0


@pytest.mark.parametrize("query, code", [
    ("from=2026-03-05&to=2026-03-01", "invalid_range"),
    ("from=2026-13-01&to=2026-03-01", "invalid_from"),
    ("from=2026-03-01&to=2026-03-03&group_by=planet", "invalid_group_by"),
    ("from=2026-03-01&to=2026-03-03&agent=ag_nobody", "invalid_agent"),
    ("from=2026-03-01&to=2026-03-03&channel=fax", "invalid_channel"),
])
def test_api_refuses_bad_report_parameters(app: Flask, client: FlaskClient, manager: Agent, query: str,
                                           code: str) -> None:
    response = client.get(f"/api/v1/reports/summary?{query}", headers=token_for(app, manager))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == code


def test_an_agent_token_cannot_read_reports(app: Flask, client: FlaskClient, agent: Agent) -> None:
    response = client.get(f"/api/v1/reports/summary?{RANGE}", headers=token_for(app, agent))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    csv_response = client.get(f"/api/v1/reports/conversations.csv?{RANGE}", headers=token_for(app, agent))
    assert csv_response.status_code == 403


def test_an_agent_opening_the_dashboard_gets_403(agent_client: FlaskClient) -> None:
    assert agent_client.get("/reports").status_code == 403
    assert agent_client.get(f"/reports/conversations.csv?{RANGE}").status_code == 403
    assert b"Reports" not in agent_client.get("/console").data  # no rail link either


def test_the_dashboard_without_login_sends_to_the_login_page(client: FlaskClient) -> None:
    response = client.get("/reports")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_manager_sees_the_dashboard_with_figures_and_the_low_score_feed(
        client: FlaskClient, manager: Agent, data: Dataset) -> None:
    login(client, manager.email)
    html = client.get(f"/reports?{RANGE}").get_data(as_text=True)
    assert 'data-kpi="csat">67%' in html
    assert 'data-kpi="backlog">3' in html
    assert "=HYPERLINK(&#34;http://evil&#34;) Too slow" in html  # the comment, escaped
    assert data.conversations["c2"].public_id in html  # the feed links to the conversation
    assert "chart.umd.min.js" in html and 'id="trend-chart"' in html
    assert 'href="/reports"' in html  # the rail link
    chart = json.loads(html.split('id="report-data">', 1)[1].split("</script>", 1)[0])
    assert len(chart["csat_answers"]) == len(chart["days"]) == len(chart["csat_rolling"])
    assert sum(chart["csat_answers"]) == 3  # the day's answers are there to show beside the line


def test_the_dashboard_with_from_after_to_explains_and_shows_the_default_period(
        client: FlaskClient, manager: Agent) -> None:
    login(client, manager.email)
    response = client.get("/reports?from=2026-03-05&to=2026-03-01")
    assert response.status_code == 422
    assert 'data-error="invalid_range"' in response.get_data(as_text=True)


def test_openapi_describes_the_report_endpoints(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/reports/summary" in paths and "/reports/conversations.csv" in paths


def test_api_summary_in_business_hours(app: Flask, client: FlaskClient, manager: Agent,
                                       data: Dataset) -> None:
    response = client.get(f"/api/v1/reports/summary?{RANGE}&hours=business", headers=token_for(app, manager))
    body = response.get_json()
    assert body["hours"] == "business" and body["totals"]["first_response_p90_seconds"] == 1260.0
    bad = client.get(f"/api/v1/reports/summary?{RANGE}&hours=lunar", headers=token_for(app, manager))
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_hours"


def test_the_dashboard_table_lists_teams_inboxes_or_channels(client: FlaskClient, manager: Agent,
                                                             data: Dataset) -> None:
    login(client, manager.email)
    teams = client.get(f"/reports?{RANGE}&table=team").get_data(as_text=True)
    assert f'data-key="{data.team.public_id}"' in teams and "No team" in teams
    channels = client.get(f"/reports?{RANGE}&table=channel").get_data(as_text=True)
    assert 'data-key="chat"' in channels and 'data-key="email"' in channels
    fallback = client.get(f"/reports?{RANGE}&table=planets").get_data(as_text=True)
    assert f'data-key="{data.alice.public_id}"' in fallback
