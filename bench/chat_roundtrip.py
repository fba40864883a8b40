"""Chat round trip on `helpdesk run` (gevent, SQLite): shopper send -> ack, and -> agent's console event.

Usage: python bench/chat_roundtrip.py [MESSAGES]   (starts its own server on a free port; prints ms figures)
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpdesk import create_app, db_of
from helpdesk.accounts import services as accounts
from helpdesk.actors import SYSTEM
from helpdesk.tickets import services as tickets
from tests.conftest import start_live_server, stop_live_server


def main(count: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    url = f"sqlite:///{root / 'bench.sqlite'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": str(root / "instance")})
    with db_of(app).unit_of_work() as s:
        accounts.create_agent(s, SYSTEM, email="bench@example.com", password="quiet lamp orbit 42", name="Bench")
        _inbox, site = tickets.create_inbox(s, SYSTEM, name="Bench chat", channel="chat")
    db_of(app).dispose()
    # The flood gate would (rightly) stop a benchmark: lift it for this server only.
    server = start_live_server(root, url, {"HELPDESK_CHAT_FLOOD_BURST": "100000", "HELPDESK_CHAT_RATE_LIMITS": "0"})
    try:
        http = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(f"{server.url}/login").text).group(1)
        http.post(f"{server.url}/login", data={"email": "bench@example.com", "password": "quiet lamp orbit 42",
                                               "csrf_token": token}, allow_redirects=False)
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        seen: dict[str, float] = {}
        got = threading.Event()
        console = socketio.Client()

        @console.on("message:new", namespace="/console")
        def _new(m: dict) -> None:
            seen[m["client_msg_id"]] = time.perf_counter()
            got.set()

        console.connect(server.url, namespaces=["/console"], transports=["websocket"],
                        headers={"Cookie": cookie})
        shopper = socketio.Client()
        shopper.connect(server.url, namespaces=["/widget"], auth={"site": site}, transports=["websocket"])
        first = shopper.call("message:send", {"client_msg_id": "warm", "body": "hi"}, namespace="/widget")
        conversation_id = first["message"]["conversation_id"]
        console.call("subscribe", {"conversation_id": conversation_id}, namespace="/console")
        acks, deliveries = [], []
        for n in range(count):
            got.clear()
            start = time.perf_counter()
            ack = shopper.call("message:send", {"client_msg_id": f"m{n}", "body": f"message {n}",
                                                "conversation_id": conversation_id},
                               namespace="/widget")
            acks.append((time.perf_counter() - start) * 1000)
            assert ack["ok"], ack
            got.wait(5)
            deliveries.append((seen[f"m{n}"] - start) * 1000)
            time.sleep(0.02)
        for name, values in (("send -> ack", acks), ("send -> console message:new", deliveries)):
            values.sort()
            p95 = values[int(len(values) * 0.95) - 1]
            print(f"{name:30} median {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms"
                  f"   max {values[-1]:6.2f} ms   (n={len(values)})")
        shopper.disconnect()
        console.disconnect()
    finally:
        stop_live_server(server)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
