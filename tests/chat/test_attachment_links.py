"""Issue 12 finding 18: a shopper's attachment link expires (HELPDESK_WIDGET_LINK_DAYS, 7) and
`history` hands out a fresh one; upload ids carry at least 128 random bits."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from flask import Flask
from itsdangerous.timed import TimestampSigner

from tests.chat.conftest import Clients, session_of
from tests.chat.test_attachments import PNG, upload

W = "/widget"


def test_attachment_links_expire_and_history_reissues_them(app: Flask, client: Any, clients: Clients, site: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    w = clients.widget({"site": site})
    token = session_of(w)["token"]
    file = upload(client, site, token, "photo.png", PNG).get_json()
    real_now = time.time
    # The message is sent (and its link signed) eight days ago.
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(real_now() - 8 * 86400))
    sent = w.emit("message:send", {"client_msg_id": "old", "body": "", "attachments": [file["id"]]}, namespace=W,
                  callback=True)
    monkeypatch.undo()
    old_url = sent["message"]["attachments"][0]["url"]
    assert client.get(old_url).status_code == 404
    history = w.emit("history", {"conversation_id": sent["message"]["conversation_id"], "after_seq": 0},
                     namespace=W, callback=True)
    fresh = history["messages"][0]["attachments"][0]["url"]
    assert fresh != old_url
    served = client.get(fresh)
    assert served.status_code == 200 and served.data == PNG
    # Six days on the fresh link still works; eight days on it has expired too.
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(real_now() + 6 * 86400))
    assert client.get(fresh).status_code == 200
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(real_now() + 8 * 86400))
    assert client.get(fresh).status_code == 404


def test_upload_ids_carry_at_least_128_random_bits(app: Flask, client: Any, clients: Clients, site: str) -> None:
    token = session_of(clients.widget({"site": site}))["token"]
    ids = {upload(client, site, token, f"p{i}.png", PNG).get_json()["id"] for i in range(3)}
    for public_id in ids:
        random_part = public_id.split("_", 1)[1]
        assert len(base64.urlsafe_b64decode(random_part + "=" * (-len(random_part) % 4))) >= 16
    assert len(ids) == 3
