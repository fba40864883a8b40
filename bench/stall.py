"""Does slow work stall chat? Agent -> shopper chat latency on `helpdesk run` (SQLite) under load.

An agent (console socket) sends a chat message every --interval seconds to a shopper (widget
socket); we time each from the agent's send to the shopper's `message:new`. Meanwhile an agent
replies over REST once a second (any 5xx / DatabaseBusy is counted). Phases, in one run:

  quiet   the same chat load, nothing else (the baseline)
  mime    a 50,000-part MIME mail (~2 MB) POSTed to /inbound/email/raw
  quoted  a 360 KB mail of 24,000 lines like `2024-01-01 @:` ingested, then its console page
          opened repeatedly by a logged-in agent
  crm     a full CRM pull against a fake HubSpot taking 500 ms per request, answering some 429s
  all     mime, quoted and crm at the same time (the issue's figure)

Usage: python bench/stall.py [--phase-seconds 10] [--interval 0.1] [--only quiet,mime,...]
Targets (issue 10): p99 <= 50 ms, worst <= 500 ms, no DatabaseBusy.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
import socketio
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpdesk import create_app, db_of
from helpdesk.accounts import services as accounts
from helpdesk.actors import SYSTEM
from helpdesk.db import Database
from helpdesk.jobs import enqueue
from helpdesk.tickets import services as tickets
from tests.conftest import start_live_server, stop_live_server
from tests.crm.fake_hubspot import FakeHubSpot
from tests.crm.fakeserver import Reply

SUPPORT = "help@shop.example"
TIMEOUT_MS = 30_000.0  # a message not delivered within this counts as this late


class SlowHubSpot(FakeHubSpot):
    """500 ms per request; every 7th request a 429 with Retry-After, as HubSpot's rolling limit."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def precheck(self, method: str, path: str, headers: dict[str, str]) -> Reply | None:
        time.sleep(0.5)
        with self.lock:
            self.requests += 1
            throttle = self.requests % 7 == 0
        if throttle:
            self.throttled += 1
            return Reply(429, {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                               "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
                         headers={"Retry-After": "1"})
        return super().precheck(method, path, headers)


def many_parts_mail(parts: int = 50_000) -> bytes:
    """~2 MB: tiny parts with the least headers a part may have."""
    head = (f"From: Flood <flood@example.net>\r\nTo: {SUPPORT}\r\nSubject: many parts\r\n"
            f"Message-ID: <parts-{time.time_ns()}@example.net>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n")
    body = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\np{n}\r\n" for n in range(parts))
    return (head + body + "--b--\r\n").encode()


def quoted_mail(lines: int = 24_000) -> bytes:
    body = "\r\n".join("2024-01-01 @:" for _ in range(lines))
    return (f"From: Quoter <quoter@example.net>\r\nTo: {SUPPORT}\r\nSubject: quoted lines\r\n"
            f"Message-ID: <quoted-{time.time_ns()}@example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"\r\n{body}\r\n").encode()


class Chat:
    """An agent sending to a shopper at a steady rate; latencies per phase."""

    def __init__(self, url: str, cookie: str, site: str, interval: float) -> None:
        self.interval = interval
        self.sent: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        self.shopper = socketio.Client(reconnection=True)
        self.agent = socketio.Client(reconnection=True)
        self.visitor_token: str | None = None
        self.conversation_id = ""
        self.subscribed = False
        self.reconnects = 0

        @self.shopper.on("session", namespace="/widget")
        def _session(data: dict[str, Any]) -> None:
            self.visitor_token = data.get("token")

        @self.agent.on("connect", namespace="/console")
        def _agent_connect() -> None:
            if self.subscribed:  # a reconnect after a stall: rejoin the conversation's room
                self.reconnects += 1
                self.agent.emit("subscribe", {"conversation_id": self.conversation_id}, namespace="/console")

        @self.shopper.on("message:new", namespace="/widget")
        def _new(m: dict[str, Any]) -> None:
            key = m.get("client_msg_id")
            if key:
                with self.lock:
                    self.arrived.setdefault(key, time.perf_counter())

        # A callable: a reconnect resumes the same visitor (and so the same conversation).
        self.shopper.connect(url, namespaces=["/widget"], transports=["websocket"],
                             auth=lambda: {"site": site, "token": self.visitor_token})
        first = self.shopper.call("message:send", {"client_msg_id": "hello", "body": "hi, a question"},
                                  namespace="/widget", timeout=30)
        self.conversation_id = first["message"]["conversation_id"]
        self.agent.connect(url, namespaces=["/console"], transports=["websocket"], headers={"Cookie": cookie})
        self.agent.call("subscribe", {"conversation_id": self.conversation_id}, namespace="/console", timeout=30)
        self.subscribed = True
        self.seq = 0
        # python-socketio's client gives up its connection for good when it has had nothing to
        # send for 30 s (no pings from a stalled server to answer); a browser would reconnect.
        # A shopper who now and then says "not typing" keeps it, so we measure the server.
        threading.Thread(target=self._keepalive, daemon=True).start()

    def _keepalive(self) -> None:
        while True:
            time.sleep(5)
            with contextlib.suppress(socketio.exceptions.SocketIOError):
                self.shopper.emit("typing", {"conversation_id": self.conversation_id, "typing": False},
                                  namespace="/widget")

    def send_for(self, seconds: float, tag: str) -> list[str]:
        """Send at the steady rate for `seconds`, never waiting for deliveries."""
        keys: list[str] = []
        end = time.perf_counter() + seconds
        next_at = time.perf_counter()
        while time.perf_counter() < end:
            self.seq += 1
            key = f"{tag}-{self.seq}"
            keys.append(key)
            with self.lock:
                self.sent[key] = time.perf_counter()
            # Disconnected by a stall: this one counts as lost.
            with contextlib.suppress(socketio.exceptions.SocketIOError):
                self.agent.emit("message:send", {"conversation_id": self.conversation_id, "client_msg_id": key,
                                                 "body": f"agent message {self.seq}"}, namespace="/console")
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
        return keys

    def collect(self, keys: list[str]) -> list[float]:
        """Milliseconds from send to the shopper's message:new; TIMEOUT_MS for a lost message."""
        deadline = time.perf_counter() + TIMEOUT_MS / 1000
        while time.perf_counter() < deadline and any(k not in self.arrived for k in keys):
            time.sleep(0.05)
        with self.lock:
            return [(self.arrived[k] - self.sent[k]) * 1000 if k in self.arrived else TIMEOUT_MS for k in keys]

    def close(self) -> None:
        self.agent.disconnect()
        self.shopper.disconnect()


class Replies(threading.Thread):
    """An agent replying over REST once a second; counts answers that are not 201."""

    def __init__(self, url: str, token: str, conversation_id: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.conversation_id = url, token, conversation_id
        self.failures: list[str] = []
        self.done = 0
        self.running = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {self.token}"
        while not self.stopped.is_set():
            if self.running.wait(0.2):
                try:
                    r = http.post(f"{self.url}/api/v1/conversations/{self.conversation_id}/messages",
                                  json={"body": "a REST reply", "private": True}, timeout=60)
                    self.done += 1
                    if r.status_code != 201:
                        self.failures.append(f"{r.status_code} {r.text[:120]}")
                except requests.RequestException as exc:
                    self.failures.append(type(exc).__name__)
                time.sleep(1.0)


def summary(name: str, values: list[float], extra: str = "") -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    lost = sum(1 for v in values if v >= TIMEOUT_MS)
    return (f"{name:8} n={len(values):4}  p50 {statistics.median(ordered):8.1f} ms  p99 {p99:8.1f} ms"
            f"  worst {ordered[-1]:8.1f} ms  lost {lost}  {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase-seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between agent messages")
    parser.add_argument("--only", default="quiet,mime,quoted,crm,all")
    parser.add_argument("--contacts", type=int, default=1500, help="contacts in the fake HubSpot")
    args = parser.parse_args()
    phases = args.only.split(",")

    root = Path(tempfile.mkdtemp(prefix="stall-bench-"))
    url = f"sqlite:///{root / 'bench.sqlite'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": str(root / "instance")})
    with db_of(app).unit_of_work() as s:
        agent = accounts.create_agent(s, SYSTEM, email="bench@example.com", password="quiet lamp orbit 42",
                                      name="Bench")
        api_token = accounts.create_api_token(s, SYSTEM, agent, "bench")
        _chat, site = tickets.create_inbox(s, SYSTEM, name="Bench chat", channel="chat")
        _mail, ingest_token = tickets.create_inbox(s, SYSTEM, name="Bench mail", channel="email", address=SUPPORT)
    db_of(app).dispose()
    hubspot = SlowHubSpot()
    for n in range(args.contacts):
        hubspot.add_contact(f"contact{n}@example.org", "Con", f"Tact {n}")
    hubspot.start()
    server = start_live_server(root, url, {
        "HELPDESK_CHAT_FLOOD_BURST": "100000", "HELPDESK_CHAT_RATE_LIMITS": "0",
        "HELPDESK_CRM": "hubspot", "HELPDESK_HUBSPOT_ACCESS_TOKEN": "hs-token",
        "HELPDESK_HUBSPOT_API_URL": hubspot.url, "HELPDESK_CRM_PULL_INTERVAL": "0",
        "HELPDESK_CRM_CREATE_CONTACTS": "0", "HELPDESK_WORKER_POLL_SECONDS": "0.2"})
    chat = None
    try:
        http = requests.Session()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get(f"{server.url}/login").text).group(1)
        http.post(f"{server.url}/login", data={"email": "bench@example.com", "password": "quiet lamp orbit 42",
                                               "csrf_token": csrf}, allow_redirects=False)
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        chat = Chat(server.url, cookie, site, args.interval)
        replies = Replies(server.url, api_token, chat.conversation_id)
        replies.start()
        chat.collect(chat.send_for(2.0, "warmup"))
        bench_db = Database(url)
        with bench_db.unit_of_work() as s:
            s.execute(text("SELECT 1"))
        results: list[str] = []
        print(f"helpdesk run on SQLite, pid {server.proc.pid}; agent message every {args.interval * 1000:.0f} ms; "
              f"phases of {args.phase_seconds:.0f} s (+ the background work's own time)", flush=True)

        def phase(name: str, background: Any) -> None:
            failures_before = len(replies.failures)
            replies.running.set()
            notes: dict[str, str] = {}
            worker = threading.Thread(target=lambda: notes.update(background() or {}), daemon=True)
            started = time.perf_counter()
            worker.start()
            keys: list[str] = []
            # Chat goes on for the phase and for as long as the background work takes (bounded).
            while (time.perf_counter() - started < args.phase_seconds or worker.is_alive()) \
                    and time.perf_counter() - started < 300:
                keys += chat.send_for(1.0, name)
            latencies = chat.collect(keys)
            notes.setdefault("background", f"{time.perf_counter() - started:.1f}s")
            replies.running.clear()
            failed = replies.failures[failures_before:]
            extra = " ".join(f"{k}={v}" for k, v in notes.items())
            reconnects, chat.reconnects = chat.reconnects, 0
            line = summary(name, latencies, f"reconnects {reconnects}  REST failures {len(failed)}"
                           f"{' ' + str(failed[:2]) if failed else ''}  {extra}")
            results.append(line)
            print(line, flush=True)

        def ingest(raw: bytes) -> tuple[requests.Response, float]:
            start = time.perf_counter()
            r = requests.post(f"{server.url}/inbound/email/raw", data=raw, timeout=300,
                              headers={"Authorization": f"Bearer {ingest_token}", "Content-Type": "message/rfc822"})
            return r, time.perf_counter() - start

        def mime() -> dict[str, str]:
            raw = many_parts_mail()
            r, took = ingest(raw)
            return {"mail": f"{len(raw) // 1024}KB->{r.status_code} in {took:.1f}s"}

        def quoted() -> dict[str, str]:
            r, took = ingest(quoted_mail())
            conv = find_conversation(server.url, api_token, "quoted lines")
            if conv is None:
                return {"mail": f"{r.status_code} in {took:.1f}s, conversation not found"}
            opens = []
            end = time.perf_counter() + args.phase_seconds
            statuses = set()
            while time.perf_counter() < end and len(opens) < 50:
                start = time.perf_counter()
                page = http.get(f"{server.url}/console/c/{conv}", timeout=120)
                opens.append(time.perf_counter() - start)
                statuses.add(page.status_code)
            return {"mail": f"{r.status_code} in {took:.1f}s",
                    "page": f"{len(opens)} opens, median {statistics.median(opens) * 1000:.0f} ms, "
                            f"max {max(opens) * 1000:.0f} ms, status {sorted(statuses)}"}

        def crm() -> dict[str, str]:
            # The bench's own connection, opened before the phases: a first connection's set-up
            # (WAL, pragmas) inside its transaction held the write lock ~200 ms, the bench's not
            # the product's.
            with bench_db.unit_of_work() as s:
                enqueue(s, "crm.pull", {"full": True})
            before = hubspot.requests
            time.sleep(args.phase_seconds)
            return {"hubspot": f"{hubspot.requests - before} requests, {hubspot.throttled} 429s"}

        if "quiet" in phases:
            phase("quiet", lambda: {})
        if "mime" in phases:
            phase("mime", mime)
        if "quoted" in phases:
            phase("quoted", quoted)
        if "crm" in phases:
            phase("crm", crm)
        if "all" in phases:
            phase("all", together(mime, quoted, crm))
        replies.stopped.set()
        log = server.output()
        busy = len(re.findall(r"DatabaseBusy|database busy", log))
        errors = len(re.findall(r" 500 | 503 |unhandled error", log))
        print(f"server log: {busy} DatabaseBusy, {errors} 5xx/unhandled lines")
        print("targets: p99 <= 50 ms, worst <= 500 ms, no DatabaseBusy")
    finally:
        if chat is not None:
            chat.close()
        stop_live_server(server)
        hubspot.stop()


def together(*loads: Any) -> Any:
    """One background load that runs the others at the same time (the issue's figure)."""

    def run() -> dict[str, str]:
        notes: dict[str, str] = {}
        threads = [threading.Thread(target=lambda f=f: notes.update(
            {f"{f.__name__}.{k}": v for k, v in (f() or {}).items()}), daemon=True) for f in loads]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        return notes

    return run


def find_conversation(base: str, token: str, subject: str, timeout: float = 120) -> str | None:
    """The newest conversation with `subject` (ingestion may finish in the worker, later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = requests.get(f"{base}/api/v1/conversations", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        if r.status_code == 200:
            for conv in r.json()["data"]:
                if conv["subject"] == subject:
                    return conv["id"]
        time.sleep(0.5)
    return None


if __name__ == "__main__":
    main()
