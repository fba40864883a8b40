"""An agent's resend after "no answer" keeps its client_msg_id, so the reply is stored once."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.tickets.models import Message
from tests.chat.conftest import Clients

C = "/console"
W = "/widget"
CONSOLE_JS = Path(__file__).resolve().parents[2] / "helpdesk" / "static" / "console-live.js"


def test_console_js_resends_under_the_same_id_until_the_server_answers() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = f"""
    const R = require({json.dumps(str(CONSOLE_JS))});
    let n = 0;
    const r = R.create(() => "id" + (++n));
    const out = {{}};
    out.first = r.idFor("cv_1", "On its way", false);
    out.resend = r.idFor("cv_1", "On its way", false);      // no answer came: same id
    out.edited = r.idFor("cv_1", "On its way today", false); // another text: another message
    r.answered(out.edited);
    out.after_answer = r.idFor("cv_1", "On its way today", false);  // stored: a new send is new
    out.other_conversation = r.idFor("cv_2", "On its way today", false);
    out.as_note = r.idFor("cv_2", "On its way today", true);
    console.log(JSON.stringify(out));
    """
    got = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True,
                                    timeout=30).stdout)
    assert got == {"first": "id1", "resend": "id1", "edited": "id2", "after_answer": "id3",
                   "other_conversation": "id4", "as_note": "id5"}


def test_a_resend_with_the_same_id_stores_one_reply(app: Flask, clients: Clients, site: str, agent,
                                                    logged_in) -> None:
    shopper = clients.widget({"site": site})
    conv_id = shopper.emit("message:send", {"client_msg_id": "q", "body": "Where is it?"}, namespace=W,
                           callback=True)["message"]["conversation_id"]
    console = clients.console(logged_in(agent.email))
    reply = {"conversation_id": conv_id, "client_msg_id": "agent-reply-1", "body": "On its way"}
    first = console.emit("message:send", reply, namespace=C, callback=True)
    again = console.emit("message:send", reply, namespace=C, callback=True)  # the ack was lost
    assert first["ok"] and again["ok"]
    assert again["message"]["id"] == first["message"]["id"] and again["message"]["seq"] == first["message"]["seq"]
    with db_of(app).sessions() as s:
        assert s.scalar(select(func.count()).select_from(Message).filter_by(body_text="On its way")) == 1
    answers = [p["args"][0] for p in shopper.get_received(W) if p["name"] == "message:new"
               and p["args"][0]["author"]["type"] == "agent"]
    assert [m["body"] for m in answers] == ["On its way"]  # the shopper saw it once


@pytest.mark.browser
def test_console_resend_after_no_answer_stores_the_reply_once_in_chromium(
    app: Flask, agent, inbox, live_server
) -> None:
    """The console's real JS in Debian's Chromium: the server stores the reply but its ack is lost
    on the way (dropped in the page's WebSocket route); after the 15 s "no answer" the agent sends
    again, and the reply is stored once."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    from tests.chat.test_widget_browser import CHROMIUM_ARGS, agent_page
    from tests.factories import make_conversation
    from tests.servers import wait_until

    conv = make_conversation(app, inbox, email="ann@example.com", body="Where is my parcel?")
    dropped: list[str] = []

    def route(ws: object) -> None:
        server = ws.connect_to_server()  # type: ignore[attr-defined]

        def to_page(message: str | bytes) -> None:
            if not dropped and isinstance(message, str) and message.startswith("43/console,") \
                    and '"On its way"' in message:
                dropped.append(message)  # the stored reply's ack never reaches the page
                return
            ws.send(message)  # type: ignore[attr-defined]

        ws.on_message(lambda message: server.send(message))  # type: ignore[attr-defined]
        server.on_message(to_page)

    def stored() -> int:
        with db_of(app).sessions() as s:
            return s.scalar(select(func.count()).select_from(Message).filter_by(body_text="On its way")) or 0

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = agent_page(browser, live_server, agent.email)
            page.route_web_socket(re.compile(r"/socket\.io/"), route)
            page.clock.install()
            page.goto(f"{live_server.url}/console/c/{conv.public_id}")
            expect = playwright_api.expect
            expect(page.locator(".presence-toggle[data-status=online]")).to_be_visible()
            page.fill("#reply", "On its way")
            page.click("#composer button[type=submit]")
            # Playwright routes frames only while it is called: poll through it, not time.sleep.
            wait_until(lambda: page.wait_for_timeout(100) or (dropped and stored() == 1), timeout=15,
                       interval=0, message="the first try stored, its ack lost")
            page.clock.fast_forward(16_000)  # socket.io's 15 s ack timeout
            expect(page.locator(".live-error")).to_contain_text("No answer from the server")
            page.click("#composer button[type=submit]")  # the kept text, sent again
            expect(page.locator("#thread .msg-agent")).to_have_count(1)
            expect(page.locator(".live-error")).to_be_hidden()
            assert stored() == 1
        finally:
            browser.close()
