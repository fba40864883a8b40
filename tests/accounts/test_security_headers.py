"""Audit finding 3: security headers on console pages, framing rules for the console and the
widget frame, and (in Debian's Chromium) that the console runs under its CSP and cannot be framed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk import create_app, db_of
from helpdesk.tickets.models import Inbox
from tests.conftest import LiveServer, csrf_token
from tests.factories import make_conversation

PAGES = ["/console", "/admin/agents", "/settings/profile", "/settings/tokens", "/reports", "/login"]


def _csp(response: Any) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.partition(" ")[2] for d in (p.strip() for p in header.split(";")) if d}


@pytest.mark.parametrize("path", PAGES)
def test_console_pages_carry_the_security_headers(app: Flask, admin_client: FlaskClient, path: str) -> None:
    response = admin_client.get(path, follow_redirects=True)
    assert response.status_code == 200
    csp = _csp(response)
    assert "'unsafe-inline'" not in csp["script-src"] and "'nonce-" in csp["script-src"]
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain http: no HSTS


def test_nonces_differ_per_request_and_no_inline_handlers_are_left(admin_client: FlaskClient) -> None:
    first = _csp(admin_client.get("/console"))["script-src"]
    second = _csp(admin_client.get("/console"))["script-src"]
    assert first != second
    for path in PAGES[:-1]:
        html = admin_client.get(path).get_data(as_text=True)
        assert not re.search(r"\son[a-z]+=", html), f"an inline event handler on {path}"


def test_hsts_when_the_site_is_https(app_config: dict[str, Any]) -> None:
    app = create_app({**app_config, "BASE_URL": "https://help.shop.example"})
    try:
        response = app.test_client().get("/login")
    finally:
        db_of(app).dispose()
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_widget_frame_may_be_framed_only_by_the_inboxs_shops(app: Flask, admin_client: FlaskClient,
                                                                 inbox: Inbox) -> None:
    frame = admin_client.get(f"/widget/frame?site={inbox.site_key}")
    assert _csp(frame)["frame-ancestors"] == "*"  # nothing set yet: any shop
    assert "X-Frame-Options" not in frame.headers
    token = csrf_token(admin_client, f"/admin/chat/{inbox.public_id}")
    form = {"csrf_token": token, "greeting": "Hi", "color": "#4f46e5", "max_open_per_agent": "0"}
    bad = admin_client.post(f"/admin/chat/{inbox.public_id}", follow_redirects=True,
                            data={**form, "allowed_origins": "javascript:alert(1)"})
    assert "not an origin" in bad.get_data(as_text=True)
    assert _csp(admin_client.get(f"/widget/frame?site={inbox.site_key}"))["frame-ancestors"] == "*"
    admin_client.post(f"/admin/chat/{inbox.public_id}",
                      data={**form, "allowed_origins": "https://shop.example\nhttps://*.shop.example/"})
    page = admin_client.get(f"/admin/chat/{inbox.public_id}").get_data(as_text=True)
    assert "https://*.shop.example" in page
    frame = admin_client.get(f"/widget/frame?site={inbox.site_key}")
    assert _csp(frame)["frame-ancestors"] == "'self' https://shop.example https://*.shop.example"


# -- in the browser -------------------------------------------------------------------------------

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def browser() -> Iterator[Any]:
    from tests.chat.test_widget_browser import CHROMIUM_ARGS

    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.browser
def test_the_console_works_under_its_csp_and_cannot_be_framed(
    app: Flask, admin: Any, inbox: Inbox, live_server: LiveServer, browser: Any
) -> None:
    from tests.chat.test_widget_browser import agent_page, serve_shop

    conv = make_conversation(app, inbox)
    page = agent_page(browser, live_server, admin.email)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    for path in ("/console", f"/console/c/{conv.public_id}", "/reports", "/admin/agents", "/settings/tokens"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    # The live socket (socket.io from our static files) came up, and Chart.js drew the reports.
    page.goto(f"{live_server.url}/console")
    playwright_api.expect(page.locator(".presence-toggle[data-status=online]")).to_be_visible()
    page.goto(f"{live_server.url}/reports")
    page.wait_for_function("() => window.Chart !== undefined && document.querySelector('canvas') !== null")
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    # The data-confirm replacement of the inline onsubmit still asks.
    page.goto(f"{live_server.url}/settings/tokens")
    page.fill("input[name=name]", "temp")
    page.click("form[action$='/settings/tokens'] button[type=submit]")
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("form[data-confirm] button[type=submit]")
    assert asked and "Revoke" in asked[0]

    # A page of another site frames /admin/agents: the browser shows nothing of it.
    shop = serve_shop(f'<!doctype html><iframe id="f" src="{live_server.url}/admin/agents"></iframe>')
    url = next(shop)
    try:
        framing = page.context.new_page()
        framing.goto(url)
        framing.wait_for_timeout(0)
        frame = framing.frame_locator("#f")
        playwright_api.expect(frame.locator("body")).not_to_contain_text("Agents", timeout=3000)
        assert all("Agents" not in (f.content() if f.url.endswith("/admin/agents") else "")
                   for f in framing.frames[1:] if not f.is_detached())
    finally:
        next(shop, None)
