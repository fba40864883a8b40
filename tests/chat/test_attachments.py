"""Widget attachments: upload over HTTP with the visitor token, then send on a message."""

from __future__ import annotations

import io
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from helpdesk import db_of
from helpdesk.tickets.models import Attachment
from tests.chat.conftest import Clients, session_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
W = "/widget"


def upload(client: Any, site: str, token: str | None, name: str, data: bytes) -> Any:
    headers = {"X-Helpdesk-Site": site, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Visitor {token}"
    return client.post(
        "/widget/attachments",
        data={"file": (io.BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def visitor(clients: Clients, site: str) -> tuple[Any, str]:
    w = clients.widget({"site": site})
    return w, session_of(w)["token"]


def test_image_upload_is_sent_on_a_message_and_served_back_signed(
    app: Flask, client: Any, clients: Clients, site: str
) -> None:
    w, token = visitor(clients, site)
    answer = upload(client, site, token, "photo.png", PNG)
    assert answer.status_code == 201
    file = answer.get_json()
    assert file["content_type"] == "image/png" and file["size"] == len(PNG)
    ack = w.emit(
        "message:send",
        {"client_msg_id": "f1", "body": "", "attachments": [file["id"]]},
        namespace=W,
        callback=True,
    )
    assert ack["ok"], ack
    sent = ack["message"]["attachments"]
    assert [a["filename"] for a in sent] == ["photo.png"]
    served = client.get(sent[0]["url"])
    assert served.status_code == 200 and served.data == PNG
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/widget/attachments/{file['id']}?sig=forged").status_code == 404
    assert client.get(f"/widget/attachments/{file['id']}").status_code == 404


def test_file_claiming_to_be_an_image_but_not_one_is_refused(
    app: Flask, client: Any, clients: Clients, site: str
) -> None:
    _w, token = visitor(clients, site)
    html = upload(client, site, token, "cat.png", b"<html><script>alert(1)</script></html>")
    assert html.status_code == 422 and html.get_json()["error"]["code"] == "file_type"
    exe = upload(client, site, token, "setup.exe", b"MZ\x90\x00" + b"\x00" * 100)
    assert exe.get_json()["error"]["code"] == "file_type"
    with db_of(app).sessions() as db:
        assert db.scalar(select(func.count()).select_from(Attachment)) == 0


def test_oversized_upload_is_refused(app: Flask, client: Any, clients: Clients, site: str) -> None:
    app.config["CHAT_MAX_ATTACHMENT_BYTES"] = 1024
    _w, token = visitor(clients, site)
    big = upload(client, site, token, "big.png", PNG + b"\x00" * 2048)
    assert big.status_code == 422 and big.get_json()["error"]["code"] == "file_too_big"


def test_upload_without_a_valid_visitor_token_is_refused(
    app: Flask, client: Any, clients: Clients, site: str
) -> None:
    assert upload(client, site, None, "a.png", PNG).status_code == 401
    assert upload(client, site, "forged", "a.png", PNG).status_code == 401
    assert upload(client, "nope", "forged", "a.png", PNG).get_json()["error"]["code"] == "unknown_site"


def test_another_visitor_cannot_send_my_upload(app: Flask, client: Any, clients: Clients, site: str) -> None:
    _mine, token = visitor(clients, site)
    file = upload(client, site, token, "photo.png", PNG).get_json()
    thief, _ = visitor(clients, site)
    ack = thief.emit(
        "message:send",
        {"client_msg_id": "t", "body": "look", "attachments": [file["id"]]},
        namespace=W,
        callback=True,
    )
    assert ack["ok"] is False and ack["error"]["code"] == "unknown_attachment"


def test_a_flood_of_uploads_is_rate_limited(app: Flask, client: Any, clients: Clients, site: str) -> None:
    _w, token = visitor(clients, site)
    codes = [upload(client, site, token, f"p{n}.png", PNG).status_code for n in range(10)]
    assert codes[:8] == [201] * 8 and codes[8:] == [429, 429]
