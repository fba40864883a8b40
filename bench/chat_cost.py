"""The work per chat message in one process, without the network: CPU time and SQL statements.

A shopper send plus an agent answer through the Flask-SocketIO test client on a SQLite file, so
the figure depends little on how busy the machine is (unlike bench/chat_load.py's latencies).

Usage: python bench/chat_cost.py [CHECKOUT] [MESSAGES] [SHOPPERS]   (CHECKOUT: whose code to load; default
this one; SHOPPERS: browsers on the site, default 20: a message's cost must not grow with them)
"""

from __future__ import annotations

import cProfile
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from helpdesk import create_app, db_of  # noqa: E402
from helpdesk.accounts import services as accounts  # noqa: E402
from helpdesk.actors import SYSTEM  # noqa: E402
from helpdesk.db import make_engine  # noqa: E402
from helpdesk.extensions import socketio  # noqa: E402
from helpdesk.migrations import upgrade  # noqa: E402
from helpdesk.tickets import services as tickets  # noqa: E402

SHOPPERS = int(sys.argv[3]) if len(sys.argv) > 3 else 20


def main(count: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="chat-cost-"))
    url = f"sqlite:///{root / 'cost.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": str(root / "instance"),
                      "TESTING": True, "RUN_MIGRATIONS": False, "WTF_CSRF_ENABLED": False,
                      # a benchmark, not a flood; all shoppers come from one address
                      "RATELIMIT_ENABLED": False, "CHAT_FLOOD_BURST": 10**9, "CHAT_RATE_LIMITS": False})
    with db_of(app).unit_of_work() as s:
        accounts.create_agent(s, SYSTEM, email="agent@bench.example", password="quiet lamp orbit 42-1", name="A")
        _inbox, site = tickets.create_inbox(s, SYSTEM, name="Bench chat", channel="chat")
    http = app.test_client()
    login = {"email": "agent@bench.example", "password": "quiet lamp orbit 42-1"}
    assert http.post("/login", data=login).status_code == 302
    console = socketio.test_client(app, namespace="/console", flask_test_client=http)
    shoppers = [socketio.test_client(app, namespace="/widget", auth={"site": site}) for _ in range(SHOPPERS)]
    conversations = []
    for i, shopper in enumerate(shoppers):
        ack = shopper.emit("message:send", {"client_msg_id": f"o{i}", "body": "hi"}, namespace="/widget",
                           callback=True)
        assert ack["ok"], ack
        conversations.append(ack["message"]["conversation_id"])
        console.emit("subscribe", {"conversation_id": conversations[-1]}, namespace="/console", callback=True)
    statements = [0]

    def count_statement(*_args: object) -> None:
        statements[0] += 1

    event.listen(db_of(app).engine, "before_cursor_execute", count_statement)
    profile_to = os.environ.get("CHAT_COST_PROFILE")  # a cProfile of the measured phase only
    profiler = cProfile.Profile() if profile_to else None
    for phase in ("warm-up", "measure"):
        statements[0] = 0
        if phase == "measure" and profiler is not None:
            profiler.enable()
        start = time.process_time()
        for n in range(count):
            i = n % SHOPPERS
            sent = shoppers[i].emit("message:send", {"client_msg_id": f"{phase}{n}", "body": f"hello {n}",
                                                     "conversation_id": conversations[i]},
                                    namespace="/widget", callback=True)
            answer = console.emit("message:send", {"client_msg_id": f"{phase}-re{n}", "body": f"answer {n}",
                                                   "conversation_id": conversations[i]},
                                  namespace="/console", callback=True)
            assert sent["ok"] and answer["ok"], (sent, answer)
            if n % 50 == 0:  # the test clients keep what they receive: drop it
                console.get_received("/console")
                for shopper in shoppers:
                    shopper.get_received("/widget")
        spent = time.process_time() - start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile_to)
    print(f"{ROOT}: {spent * 1000 / (2 * count):.2f} ms CPU and {statements[0] / (2 * count):.1f} SQL statements "
          f"per message ({2 * count} messages)")


if __name__ == "__main__":
    main(int(sys.argv[2]) if len(sys.argv) > 2 else 300)
