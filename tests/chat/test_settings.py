"""Chat settings per inbox: admins only, validated, and the frame follows them."""

from __future__ import annotations

from typing import Any

from flask import Flask

from helpdesk import db_of
from helpdesk.tickets.models import Inbox
from tests.conftest import csrf_token, login


def test_admin_turns_on_prechat_round_robin_and_the_frame_follows(
    app: Flask, admin_client: Any, inbox: Inbox, agent: Any
) -> None:
    page = f"/admin/chat/{inbox.public_id}"
    assert admin_client.get(page).status_code == 200
    answer = admin_client.post(
        page,
        data={
            "csrf_token": csrf_token(admin_client, page),
            "greeting": "Moin! <script>x</script>",
            "color": "#0f766e",
            "prechat": "1",
            "auto_assign": "1",
            "max_open_per_agent": "3",
            "members": [agent.public_id],
        },
    )
    assert answer.status_code == 303
    with db_of(app).sessions() as db:
        saved = db.get(Inbox, inbox.id)
        assert saved.auto_assign and saved.max_open_per_agent == 3
        assert [a.email for a in saved.members] == [agent.email]
        assert saved.settings["prechat"] is True
    frame = admin_client.get(f"/widget/frame?site={inbox.site_key}").get_data(as_text=True)
    assert "Moin! &lt;script&gt;x&lt;/script&gt;" in frame and "<script>x</script>" not in frame
    assert '"prechat": true' in frame and "--brand: #0f766e" in frame


def test_bad_chat_settings_change_nothing(app: Flask, admin_client: Any, inbox: Inbox) -> None:
    page = f"/admin/chat/{inbox.public_id}"
    token = csrf_token(admin_client, page)
    for bad in (
        {"color": "red;}body{display:none"},
        {"max_open_per_agent": "-1"},
        {"max_open_per_agent": "lots"},
    ):
        admin_client.post(page, data={"csrf_token": token, "greeting": "hi", **bad})
    with db_of(app).sessions() as db:
        saved = db.get(Inbox, inbox.id)
        assert (
            not saved.auto_assign
            and saved.max_open_per_agent == 0
            and not (saved.settings or {}).get("greeting")
        )


def test_agents_cannot_change_chat_settings(app: Flask, client: Any, agent: Any, inbox: Inbox) -> None:
    login(client, agent.email)
    assert client.get(f"/admin/chat/{inbox.public_id}").status_code == 403


def test_frame_of_an_unknown_site_is_refused(client: Any) -> None:
    assert client.get("/widget/frame?site=nope").status_code == 401
    loader = client.get("/widget.js")
    assert loader.status_code == 200 and loader.mimetype == "text/javascript"
