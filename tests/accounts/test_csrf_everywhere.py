"""Held item of the audit: CSRF on every form. Every state-changing route of the url_map refuses a
request without a CSRF token, except the ones authenticated by a token or a signature (which do
not look at cookies at all, so a forged cross-site request carries nothing they accept)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from helpdesk.extensions import csrf

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Why each of these needs no CSRF token: what authenticates it instead.
TOKEN_OR_SIGNATURE = {
    "api": "Authorization: Bearer API token",
    "crm_webhooks": "HubSpot's request signature",
    "email_inbound": "the inbox's ingest token or the provider's signature",
    "orders_webhooks": "the shop platform's HMAC signature",
    "payments_webhooks": "Stripe's Stripe-Signature (HMAC of timestamp and body)",
    "orders_widget": "order number plus email, rate limited; no cookies are read",
    "widget.upload": "the visitor token in Authorization: Visitor",
    "csat.comment": "the survey's signed nonce",
}


def _exempt_names() -> set[str]:
    return {b if isinstance(b, str) else b.name for b in csrf._exempt_blueprints}


def _is_exempt(app: Flask, endpoint: str) -> bool:
    view = app.view_functions[endpoint]
    return endpoint.split(".")[0] in _exempt_names() or f"{view.__module__}.{view.__name__}" in csrf._exempt_views


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & STATE_CHANGING):
            # Path values do not matter: the CSRF check runs before the view looks them up.
            path = re.sub(r"<int:\w+>", "1", rule.rule)
            found.append((method, re.sub(r"<(?:\w+:)?\w+>", "x", path), rule.endpoint))
    return found


def test_every_exempt_route_is_one_authenticated_by_a_token_or_signature(app: Flask) -> None:
    exempt = {endpoint for _m, _p, endpoint in _routes(app) if _is_exempt(app, endpoint)}
    unexplained = {e for e in exempt if e not in TOKEN_OR_SIGNATURE and e.split(".")[0] not in TOKEN_OR_SIGNATURE}
    assert not unexplained, f"CSRF-exempt without a reason here: {unexplained}"


def test_every_other_state_changing_route_refuses_a_missing_token(app: Flask, admin_client: FlaskClient) -> None:
    checked = 0
    for method, path, endpoint in _routes(app):
        if _is_exempt(app, endpoint):
            continue
        response = admin_client.open(path, method=method, data={"x": "1"}, headers={"Accept": "application/json"})
        assert response.status_code == 400, f"{method} {path} ({endpoint}) answered {response.status_code}"
        assert response.get_json()["error"]["code"] == "csrf_failed", f"{method} {path}"
        checked += 1
    assert checked >= 30  # the console's and admin's forms, logout and login included


def test_exempt_api_routes_ignore_the_login_cookie(app: Flask, admin_client: FlaskClient) -> None:
    for method, path, endpoint in _routes(app):
        if endpoint.startswith("api."):
            answer = admin_client.open(path, method=method, json={})
            assert answer.status_code == 401, f"{method} {path} took the session cookie"
    upload = admin_client.post("/widget/attachments", data={})
    assert upload.status_code in (401, 404)
