"""A bare Flask-SocketIO gevent server speaking the chat's socket contract, with no database and
no domain logic: the baseline of bench/chat_load.py.

It sends the same traffic per message as `helpdesk run` (the ack, `message:new` to the
conversation's agents and to the shopper, the rows of each 100 ms tick as one `conversations:updated`
frame to every agent), so the
difference in CPU per message is what the helpdesk adds on top of Socket.IO itself.

Usage: python bench/echo_server.py PORT
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import contextlib  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask, request  # noqa: E402
from flask_socketio import SocketIO, emit, join_room  # noqa: E402

app = Flask(__name__)
socketio = SocketIO(app, async_mode="gevent", cors_allowed_origins="*")
_seq: dict[str, itertools.count] = {}
_shopper_room: dict[str, str] = {}  # conversation -> the room of its shopper's tabs
_visitor_of: dict[str, str] = {}  # socket id -> that room


def _message(data: dict[str, Any], author: str) -> dict[str, Any]:
    conv = str(data.get("conversation_id"))
    seq = next(_seq.setdefault(conv, itertools.count(1)))
    return {"id": f"msg_{conv}_{seq}", "conversation_id": conv, "seq": seq,
            "client_msg_id": data.get("client_msg_id"), "author": {"type": author, "name": author},
            "body": data.get("body"), "attachments": [], "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "private": False, "delivery": None, "delivery_error": None}


def _row(conv: str, seq: int) -> dict[str, Any]:
    # About the size of the console's CONVERSATION row.
    return {"id": conv, "status": "open", "channel": "chat", "subject": "load", "assignee": None,
            "created_at": "2026-01-01T00:00:00Z", "last_seq": seq, "ref": "ABCDEF", "priority": "normal",
            "tags": [], "inbox": {"id": "ib_x", "name": "Bench chat"},
            "customer": {"id": "cu_x", "name": "Visitor", "email": None}, "team": None,
            "updated_at": "2026-01-01T00:00:00Z", "last_activity_at": "2026-01-01T00:00:00Z",
            "first_response_at": None, "resolved_at": None}


_rows: dict[str, dict[str, Any]] = {}  # the consoles' rows of this tick, latest per conversation


def _flush_rows() -> None:
    socketio.sleep(0.1)  # helpdesk's ROW_TICK_SECONDS (chat/relay.py)
    rows = list(_rows.values())
    _rows.clear()
    socketio.emit("conversations:updated", {"conversations": rows}, namespace="/console", to="console")


def _fan_out(message: dict[str, Any]) -> None:
    # As helpdesk: the sending socket has the message in its ack and gets no message:new of it.
    conv = message["conversation_id"]
    socketio.emit("message:new", message, namespace="/console", to=f"conversation:{conv}", skip_sid=request.sid)
    if not _rows:
        socketio.start_background_task(_flush_rows)
    _rows[conv] = _row(conv, message["seq"])
    if conv in _shopper_room:
        socketio.emit("message:new", message, namespace="/widget", to=_shopper_room[conv], skip_sid=request.sid)


@socketio.on("connect", namespace="/widget")
def widget_connect(auth: Any = None) -> None:
    token = (auth or {}).get("token") or request.sid
    join_room(f"visitor:{token}")
    _visitor_of[request.sid] = f"visitor:{token}"
    emit("session", {"token": token, "online": True, "conversation": None, "conversations": []})


@socketio.on("message:send", namespace="/widget")
def widget_send(data: Any) -> dict[str, Any]:
    message = _message(data, "customer")
    _shopper_room[message["conversation_id"]] = _visitor_of[request.sid]
    _fan_out(message)
    return {"ok": True, "message": message}


@socketio.on("connect", namespace="/console")
def console_connect(_auth: Any = None) -> None:
    join_room("console")
    emit("session", {"agent": {"id": request.sid, "name": "agent", "status": "online"}, "agents": []})


@socketio.on("subscribe", namespace="/console")
def console_subscribe(data: Any) -> dict[str, Any]:
    conv = str(data.get("conversation_id"))
    join_room(f"conversation:{conv}")
    return {"ok": True, "conversation": _row(conv, 0), "messages": []}


@socketio.on("message:send", namespace="/console")
def console_send(data: Any) -> dict[str, Any]:
    message = _message(data, "agent")
    _fan_out(message)
    return {"ok": True, "message": message}


class NoDelay:
    """As helpdesk/chat/transport.py: TCP_NODELAY on each WebSocket, so the echo is not held by Nagle."""

    def __init__(self, wsgi: Any) -> None:
        self.wsgi = wsgi

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        sock = getattr(getattr(environ.get("wsgi.websocket"), "handler", None), "socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.wsgi(environ, start_response)


if __name__ == "__main__":
    app.wsgi_app = NoDelay(app.wsgi_app)  # type: ignore[method-assign]
    gc.set_threshold(700, 10, 10**9)  # the same GC tuning as `helpdesk run`
    print("echo listening", flush=True)
    socketio.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_output=False)
