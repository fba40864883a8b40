"""Live chat under load: N shoppers at 0.2 msg/s each, 20 agents answering every message.

Measures, per load step, on `helpdesk run` and on a bare Flask-SocketIO gevent echo server
(bench/echo_server.py, same traffic per message) started in the same run:
persisted msg/s, lost and doubled messages, shopper -> agent and agent -> shopper latency
(p50/p99), and server CPU per message (from /proc/PID/stat of the server and its children).

    python bench/chat_load.py                          # 100, 250, 500, 1000 shoppers, SQLite
    python bench/chat_load.py --shoppers 1000          # one step
    python bench/chat_load.py --knee                   # step up until p99 > 50 ms or a loss
    python bench/chat_load.py --postgres               # a throwaway PostgreSQL cluster (as the tests do)
    python bench/chat_load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
    python bench/chat_load.py --postgres --redis --app-processes 2   # two app processes, Redis between:
                                                       # shoppers and agents spread over both
    python bench/chat_load.py --urls http://127.0.0.1:8000,http://127.0.0.1:8001 \
        --database-url ...                             # servers you started (CPU not measured)
    python bench/chat_load.py --app-root /tmp/hot-base  # serve another checkout's code (a "before")
    python bench/chat_load.py --profile out/            # py-spy the server during each step

The load clients are raw Engine.IO/Socket.IO over websocket-client on gevent, in processes of
their own (shoppers split over several, agents in one), so the client is not the bottleneck: a
row frame every agent gets (`conversations:updated` per tick) is counted, not parsed. A message
body carries its send time, so latency needs no clock but the machine's.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and "--client" in sys.argv:
    from gevent import monkey

    monkey.patch_all()

import argparse
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AGENT_PASSWORD = "quiet lamp orbit 42-1"
SHOPPERS_PER_PROCESS = 400
DEFAULT_STEPS = (100, 250, 500, 1000)
KNEE_STEPS = (100, 250, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000)


# ---------------------------------------------------------------------------------------------
# The load client (runs in its own process, under gevent)

def _ws_url(url: str) -> str:
    return url.replace("http://", "ws://").replace("https://", "wss://") + "/socket.io/?EIO=4&transport=websocket"


class Conn:
    """One Socket.IO connection on one namespace, spoken by hand (EIO 4)."""

    def __init__(self, url: str, namespace: str, auth: dict[str, Any] | None = None,
                 cookie: str | None = None) -> None:
        import websocket

        headers = [f"Cookie: {cookie}"] if cookie else []
        self.ns = namespace
        self.ws = websocket.create_connection(_ws_url(url), header=headers, enable_multithread=True,
                                              skip_utf8_validation=True, timeout=60)
        self.ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        opened = self.ws.recv()
        assert opened.startswith("0"), opened
        self.ws.send(f"40{namespace}," + (json.dumps(auth) if auth else ""))
        self.prefix_event = f"42{namespace},"
        self.prefix_ack = f"43{namespace},"
        self.next_ack = 0

    def emit(self, event: str, data: Any) -> int:
        self.next_ack += 1
        self.ws.send(f"42{self.ns},{self.next_ack}" + json.dumps([event, data]))
        return self.next_ack

    def recv(self) -> str:
        frame = self.ws.recv()
        if frame == "2":
            self.ws.send("3")
        return frame

    def wait_session(self) -> None:
        while True:
            frame = self.recv()
            if frame.startswith(f"44{self.ns},"):
                raise RuntimeError(f"refused: {frame}")
            if frame.startswith(self.prefix_event + '["session"'):
                return

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


def _ack(frame: str, prefix: str) -> tuple[int, Any]:
    rest = frame[len(prefix):]
    bracket = rest.index("[")
    return int(rest[:bracket]), json.loads(rest[bracket:])[0]


def _sent_at(body: str) -> float:
    return float(body.rsplit("t=", 1)[1])


@dataclass
class Tally:
    sent: int = 0
    acked: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    ack_ms: list[float] = field(default_factory=list)
    acked_ids: list[str] = field(default_factory=list)
    got_ids: list[str] = field(default_factory=list)  # what this side received from the other
    latency_ms: list[float] = field(default_factory=list)
    fanout_frames: int = 0

    def error(self, ack: Any) -> None:
        code = (ack.get("error") or {}).get("code", "?") if isinstance(ack, dict) else "?"
        self.errors[code] = self.errors.get(code, 0) + 1


def client_main() -> None:
    """Commands on stdin (one JSON per line), answers on stdout: the coordinator drives the steps."""
    import gevent
    import gevent.pool

    cfg = json.loads(sys.stdin.readline())
    step_tally = Tally()
    pending: dict[tuple[int, int], tuple[float, str]] = {}  # (conn index, ack id) -> (sent, cid)

    def reader(index: int, conn: Conn, role: str) -> None:
        with contextlib.suppress(Exception):  # the server went away (the end of the run)
            read(index, conn, role)

    def read(index: int, conn: Conn, role: str) -> None:
        while True:
            frame = conn.recv()
            if frame.startswith(conn.prefix_ack):
                ack_id, ack = _ack(frame, conn.prefix_ack)
                sent = pending.pop((index, ack_id), None)
                if sent is None:
                    continue  # a subscribe
                if isinstance(ack, dict) and ack.get("ok"):
                    step_tally.acked += 1
                    step_tally.acked_ids.append(sent[1])
                    step_tally.ack_ms.append((time.time() - sent[0]) * 1000)
                else:
                    step_tally.error(ack)
            elif frame.startswith(conn.prefix_event + '["message:new"'):
                message = json.loads(frame[len(conn.prefix_event):])[1]
                author = message["author"]["type"]
                if role == "agent" and author == "customer":
                    now = time.time()
                    step_tally.got_ids.append(message["client_msg_id"])
                    step_tally.latency_ms.append((now - _sent_at(message["body"])) * 1000)
                    answer = {"conversation_id": message["conversation_id"],
                              "client_msg_id": "re-" + message["client_msg_id"], "body": f"on it t={now:.6f}"}
                    ack_id = conn.emit("message:send", answer)
                    pending[(index, ack_id)] = (now, answer["client_msg_id"])
                    step_tally.sent += 1
                elif role == "shopper" and author == "agent":
                    step_tally.got_ids.append(message["client_msg_id"])
                    step_tally.latency_ms.append((time.time() - _sent_at(message["body"])) * 1000)
            elif frame.startswith(conn.prefix_event):
                step_tally.fanout_frames += 1

    shoppers: list[tuple[Conn, str]] = []  # (connection, its conversation)
    agents: list[Conn] = []
    readers = gevent.pool.Group()

    def connect_shopper(spec: list[str]) -> tuple[Conn, str]:
        url, token, conversation = spec
        conn = Conn(url, "/widget", auth={"site": cfg["site"], "token": token})
        conn.wait_session()
        return conn, conversation

    def connect_agent(spec: dict[str, Any]) -> Conn:
        conn = Conn(spec["url"], "/console", cookie=spec["cookie"])
        conn.wait_session()
        for conversation in spec["conversations"]:
            conn.emit("subscribe", {"conversation_id": conversation, "after_seq": 2**31 - 1})
        return conn

    if cfg.get("agents"):
        agents = list(gevent.pool.Pool(20).imap(connect_agent, cfg["agents"]))
        for i, conn in enumerate(agents):
            readers.spawn(reader, i, conn, "agent")
    print(json.dumps({"ready": True}), flush=True)

    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            break
        want = command["shoppers"]
        if want > len(shoppers):
            specs = cfg["shoppers"][len(shoppers):want]
            fresh = list(gevent.pool.Pool(50).imap(connect_shopper, specs))
            for conn, conversation in fresh:
                index = 10_000 + len(shoppers)
                shoppers.append((conn, conversation))
                readers.spawn(reader, index, conn, "shopper")
        print(json.dumps({"ready": True}), flush=True)
        go = json.loads(sys.stdin.readline())
        step_tally = Tally()
        start, duration, rate = go["start_at"], go["duration"], go["rate"]
        active = shoppers[:want]
        rng = random.Random(go.get("seed", 1))
        if active:
            interval = 1.0 / (len(active) * rate)
            gevent.sleep(max(0.0, start - time.time()))
            n = 0
            while True:
                due = start + n * interval
                if due >= start + duration:
                    break
                delay = due - time.time()
                if delay > 0:
                    gevent.sleep(delay)
                conn, conversation = active[n % len(active)]
                cid = f"{go['step']}-{cfg['name']}-{n}"
                body = (f"where is order #{rng.randint(1000, 99999)}? t={time.time():.6f}"
                        if rng.random() < go["order_share"] else f"hello, a question t={time.time():.6f}")
                ack_id = conn.emit("message:send", {"conversation_id": conversation, "client_msg_id": cid,
                                                    "body": body})
                pending[(10_000 + n % len(active), ack_id)] = (time.time(), cid)
                step_tally.sent += 1
                n += 1
        gevent.sleep(max(0.0, start + duration + go["grace"] - time.time()))
        print(json.dumps(step_tally.__dict__), flush=True)
    for conn, _ in shoppers:
        conn.close()
    for conn in agents:
        conn.close()


# ---------------------------------------------------------------------------------------------
# The coordinator

def cpu_seconds(pid: int) -> float:
    """utime + stime of pid and its descendants, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
        todo += children.get(current, [])
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[bytes] | None
    log: Path | None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_helpdesk(work: Path, database_url: str, app_root: Path, redis_url: str | None, n: int) -> Server:
    port = _free_port()
    folder = work / f"app-{n}"
    folder.mkdir(exist_ok=True)
    log = folder / "server.log"
    env = {**os.environ, "HELPDESK_DATABASE_URL": database_url, "HELPDESK_SECRET_KEY": "bench-secret",
           "HELPDESK_INSTANCE_PATH": str(work / "instance"),
           # An outer PYTHONPATH (e.g. a sitecustomize that counts frames) stays behind the checkout.
           "PYTHONPATH": os.pathsep.join(filter(None, [str(app_root), os.environ.get("PYTHONPATH")])),
           "HELPDESK_BASE_URL": f"http://127.0.0.1:{port}",
           # The flood gate would (rightly) stop the load; lift it for these servers only.
           "HELPDESK_CHAT_FLOOD_BURST": "1000000", "HELPDESK_CHAT_RATE_LIMITS": "0"}
    if redis_url:
        env["HELPDESK_REDIS_URL"] = redis_url
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "helpdesk", "run", "--port", str(port)], cwd=folder,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    _wait_port(port, proc, log)
    return Server(f"helpdesk-{n}", f"http://127.0.0.1:{port}", proc, log)


def start_echo(work: Path) -> Server:
    port = _free_port()
    log = work / "echo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(HERE / "echo_server.py"), str(port)], cwd=work,
                                stdout=out, stderr=subprocess.STDOUT)
    _wait_port(port, proc, log)
    return Server("echo", f"http://127.0.0.1:{port}", proc, log)


@dataclass
class Fixture:
    site: str
    agents: list[tuple[str, str]]  # (email, session cookie)
    shoppers: list[tuple[str, str]]  # (visitor token, conversation public id)


def seed(database_url: str, work: Path, agents: int, shoppers: int) -> Fixture:
    """Agents, a chat inbox, and one visitor with a going conversation per shopper, through the
    real services (this checkout's), before any server runs."""
    sys.path.insert(0, str(ROOT))
    from helpdesk import create_app, db_of
    from helpdesk.accounts import services as accounts
    from helpdesk.actors import SYSTEM
    from helpdesk.chat import services as chat
    from helpdesk.chat import visitors
    from helpdesk.tickets import services as tickets

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench-secret",
                      "INSTANCE_PATH": str(work / "instance"), "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "TESTING": True, "RUN_MIGRATIONS": False})
    database = db_of(app)
    with database.unit_of_work() as s:
        for i in range(agents):
            accounts.create_agent(s, SYSTEM, email=f"agent{i}@bench.example", password=AGENT_PASSWORD,
                                  name=f"Agent {i}")
        inbox, site = tickets.create_inbox(s, SYSTEM, name="Bench chat", channel="chat")
        inbox_id = inbox.id
    made: list[tuple[str, str]] = []
    for start in range(0, shoppers, 200):
        with database.unit_of_work() as s:
            from helpdesk.tickets.models import Inbox

            inbox = s.get(Inbox, inbox_id)
            for n in range(start, min(shoppers, start + 200)):
                started = visitors.start(s, inbox)
                message = chat.visitor_send(s, started.visitor, {"client_msg_id": f"open-{n}", "body": "hi"})
                made.append((started.token, message.conversation.public_id))
    cookies = []
    for i in range(agents):
        http = app.test_client()
        answer = http.post("/login", data={"email": f"agent{i}@bench.example", "password": AGENT_PASSWORD})
        assert answer.status_code == 302, answer.status_code
        cookies.append((f"agent{i}@bench.example",
                        "; ".join(c.split(";", 1)[0] for c in answer.headers.getlist("Set-Cookie"))))
    database.dispose()
    return Fixture(site, cookies, made)


class Client:
    def __init__(self, name: str, cfg: dict[str, Any]) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--client"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=HERE)
        self.send({**cfg, "name": name})
        self.read()

    def send(self, data: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(data) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("a load client died (see its stderr above)")
        return json.loads(line)

    def quit(self) -> None:
        try:
            self.send({"quit": True})
            self.proc.wait(timeout=15)
        except Exception:
            self.proc.kill()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def count_messages(database_url: str | None) -> int | None:
    if database_url is None:
        return None
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        value = conn.execute(text("SELECT count(*) FROM messages")).scalar_one()
    engine.dispose()
    return int(value)


@dataclass
class Target:
    """One system under load: its servers, the clients speaking to it, its database (if any)."""

    label: str
    servers: list[Server]
    urls: list[str]
    database_url: str | None
    clients: list[Client] = field(default_factory=list)

    def cpu(self) -> float | None:
        pids = [s.proc.pid for s in self.servers if s.proc is not None]
        return sum(cpu_seconds(p) for p in pids) if pids else None


def open_clients(target: Target, fixture: Fixture, max_shoppers: int, agent_count: int) -> None:
    urls = target.urls
    shopper_procs = max(1, -(-max_shoppers // SHOPPERS_PER_PROCESS))
    agent_specs = [{"url": urls[i % len(urls)], "cookie": fixture.agents[i][1],
                    "conversations": [c for j, (_t, c) in enumerate(fixture.shoppers[:max_shoppers])
                                      if j % agent_count == i]}
                   for i in range(agent_count)]
    target.clients.append(Client("agents", {"site": fixture.site, "agents": agent_specs, "shoppers": []}))
    for p in range(shopper_procs):
        specs = [[urls[j % len(urls)], token, conv] for j, (token, conv) in enumerate(fixture.shoppers[:max_shoppers])
                 if j % shopper_procs == p]
        target.clients.append(Client(f"s{p}", {"site": fixture.site, "agents": [], "shoppers": specs}))


def run_step(target: Target, step: int, shoppers: int, args: argparse.Namespace,
             profile: Path | None) -> dict[str, Any]:
    shopper_clients = target.clients[1:]
    per = [len(range(p, shoppers, len(shopper_clients))) for p in range(len(shopper_clients))]
    for client, n in zip(target.clients, [0, *per], strict=True):
        client.send({"shoppers": n})
    for client in target.clients:
        client.read()
    start_at = time.time() + 1.0
    go = {"start_at": start_at, "duration": args.duration, "grace": args.grace, "rate": args.rate,
          "step": step, "order_share": args.order_share}
    for i, client in enumerate(target.clients):
        client.send({**go, "seed": step * 100 + i})
    spy = None
    if profile is not None and target.servers and target.servers[0].proc is not None:
        out = profile / f"{target.label}-{shoppers}.txt"
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record",
                                *([] if args.profile_blocking else ["--nonblocking"]),
                                "-r", str(args.profile_rate), "-d", str(int(args.duration)),
                                "-f", "raw", "-o", str(out),
                                "--pid", str(target.servers[0].proc.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(max(0.0, start_at - time.time()))
    cpu0, rows0 = target.cpu(), count_messages(target.database_url)
    time.sleep(args.duration)
    cpu1, rows1 = target.cpu(), count_messages(target.database_url)
    results = [client.read() for client in target.clients]
    if spy is not None:
        spy.wait(timeout=60)
    agents, shopper_results = results[0], results[1:]
    shopper_sent = sum(r["sent"] for r in shopper_results)
    shopper_acked = {cid for r in shopper_results for cid in r["acked_ids"]}
    at_agents = agents["got_ids"]
    answers_acked = set(agents["acked_ids"])
    at_shoppers = [cid for r in shopper_results for cid in r["got_ids"]]
    errors: dict[str, int] = {}
    for r in results:
        for code, n in r["errors"].items():
            errors[code] = errors.get(code, 0) + n
    lost = (shopper_sent - len(shopper_acked)) + len(shopper_acked - set(at_agents))
    lost_answers = (agents["sent"] - len(answers_acked)) + len(answers_acked - set(at_shoppers))
    doubled = (len(at_agents) - len(set(at_agents))) + (len(at_shoppers) - len(set(at_shoppers)))
    acked_in_window = len(shopper_acked) + len(answers_acked)
    persisted = (rows1 - rows0) / args.duration if rows0 is not None and rows1 is not None \
        else acked_in_window / args.duration
    cpu_ms = ((cpu1 - cpu0) * 1000 / max(1, persisted * args.duration)) if cpu0 is not None else None
    return {"target": target.label, "shoppers": shoppers, "offered": 2 * shoppers * args.rate,
            "persisted": persisted, "sent": shopper_sent + agents["sent"], "lost": lost + lost_answers,
            "doubled": doubled, "errors": errors,
            "p50": _pct(agents["latency_ms"], 0.5), "p99": _pct(agents["latency_ms"], 0.99),
            "answer_p50": _pct(at_shopper_latency(shopper_results), 0.5),
            "answer_p99": _pct(at_shopper_latency(shopper_results), 0.99),
            "ack_p99": _pct([x for r in shopper_results for x in r["ack_ms"]], 0.99),
            "cpu_ms": cpu_ms, "server_cpu": None if cpu0 is None else (cpu1 - cpu0) / args.duration}


def at_shopper_latency(results: list[dict[str, Any]]) -> list[float]:
    return [x for r in results for x in r["latency_ms"]]


def fmt(row: dict[str, Any]) -> str:
    cpu = f"{row['cpu_ms']:.2f} ms ({row['server_cpu'] * 100:.0f}% core)" if row["cpu_ms"] is not None else "-"
    err = f"  errors {row['errors']}" if row["errors"] else ""
    return (f"{row['target']:<10} {row['shoppers']:>5} shoppers  offered {row['offered']:6.0f}/s  "
            f"persisted {row['persisted']:6.1f}/s  lost {row['lost']:>4}/{row['sent']:<5} doubled {row['doubled']:>2}  "
            f"shopper->agent p50 {row['p50']:7.1f} p99 {row['p99']:7.1f} ms  "
            f"agent->shopper p99 {row['answer_p99']:7.1f} ms  cpu/msg {cpu}{err}")


def ok(row: dict[str, Any], p99: float) -> bool:
    return row["lost"] == 0 and row["doubled"] == 0 and row["p99"] <= p99 and not row["errors"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=int, action="append", help="a load step (repeatable)")
    parser.add_argument("--knee", action="store_true", help="step up until p99 > --p99 ms or a loss")
    parser.add_argument("--p99", type=float, default=50.0)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.2, help="messages per second per shopper")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per step (<= 25)")
    parser.add_argument("--grace", type=float, default=3.0, help="seconds to wait for late deliveries")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds of load at the first step's size before the counted steps (0: none)")
    parser.add_argument("--order-share", type=float, default=0.05, help="share of messages naming an order number")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster")
    parser.add_argument("--redis", action="store_true", help="start a throwaway Redis (as the tests do)")
    parser.add_argument("--app-processes", type=int, default=1)
    parser.add_argument("--redis-url", help="needed for more than one app process")
    parser.add_argument("--urls", help="comma-separated app URLs already running on --database-url")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="the checkout whose code the server runs")
    parser.add_argument("--no-echo", action="store_true")
    parser.add_argument("--only-echo", action="store_true")
    parser.add_argument("--profile", type=Path, help="folder for py-spy raw profiles of the server, per step")
    parser.add_argument("--profile-rate", type=int, default=50, help="py-spy samples per second")
    parser.add_argument("--profile-blocking", action="store_true",
                        help="py-spy stops the server per sample: slower, but the shares are right under gevent")
    args = parser.parse_args()
    if args.duration > 25:
        parser.error("--duration: keep each step within 30 s")
    started: list[Any] = []
    sys.path.insert(0, str(ROOT))
    if args.postgres:
        from tests.servers import start_postgres

        started.append(start_postgres())
        args.database_url = started[-1].url("postgres")
    if args.redis:
        from tests.servers import start_redis

        started.append(start_redis())
        args.redis_url = started[-1].url
    try:
        run(parser, args)
    finally:
        for server in reversed(started):
            server.stop()


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.app_processes > 1 and not args.redis_url:
        parser.error("--app-processes > 1 needs --redis-url (emits must cross processes)")
    if args.urls and not args.database_url:
        parser.error("--urls needs the --database-url those servers use (the bench seeds it)")
    steps = args.shoppers or list(KNEE_STEPS if args.knee else DEFAULT_STEPS)
    work = Path(tempfile.mkdtemp(prefix="chat-load-"))
    database_url = args.database_url or f"sqlite:///{work / 'bench.sqlite'}"
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    print(f"seeding {max(steps)} shoppers and {args.agents} agents into {database_url.split('@')[-1]} ...",
          flush=True)
    if not args.urls:
        _migrate(database_url, args.app_root)
    fixture = seed(database_url, work, args.agents, max(steps))
    targets: list[Target] = []
    try:
        if not args.only_echo:
            if args.urls:
                urls = args.urls.split(",")
                targets.append(Target("helpdesk", [], urls, database_url))
            else:
                servers = [start_helpdesk(work, database_url, args.app_root, args.redis_url, n)
                           for n in range(args.app_processes)]
                targets.append(Target("helpdesk", servers, [s.url for s in servers], database_url))
        if not args.no_echo:
            echo = start_echo(work)
            targets.append(Target("echo", [echo], [echo.url], None))
        rows: dict[str, list[dict[str, Any]]] = {t.label: [] for t in targets}
        # One target at a time, its clients connected only for its own steps: the other's idle
        # sockets and client processes on the same two cores must not colour its figures.
        for target in targets:
            open_clients(target, fixture, max(steps), args.agents)
            if args.warmup > 0:  # a server's first seconds (cold caches, statements compiled on first use)
                warm = argparse.Namespace(**{**vars(args), "duration": args.warmup})
                print(fmt(run_step(target, 0, steps[0], warm, None)) + "   (warm-up, not counted)", flush=True)
            for step, shoppers in enumerate(steps, start=1):
                row = run_step(target, step, shoppers, args, args.profile)
                rows[target.label].append(row)
                print(fmt(row), flush=True)
                if args.knee and not ok(row, args.p99):
                    break
            for client in target.clients:
                client.quit()
            target.clients.clear()
        for label, series in rows.items():
            good = [r for r in series if ok(r, args.p99)]
            best = max(good, key=lambda r: r["persisted"]) if good else None
            print(f"knee {label}: " + (f"{best['persisted']:.0f} persisted msg/s at {best['shoppers']} shoppers"
                                       if best else f"none of the steps kept p99 <= {args.p99:.0f} ms with no loss"))
    finally:
        for target in targets:
            for client in target.clients:
                client.quit()
            for server in target.servers:
                server.stop()
        for target in targets:
            for server in target.servers:
                if server.log and "Traceback" in server.log.read_text(errors="replace"):
                    print(f"note: {server.name} logged a traceback: {server.log}")
        if args.profile is None and not os.environ.get("CHAT_LOAD_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


def _migrate(database_url: str, app_root: Path) -> None:
    """Schema of the code under test (its own Alembic head)."""
    code = "from helpdesk.db import make_engine; from helpdesk.migrations import upgrade; import sys; " \
           "e = make_engine(sys.argv[1]); upgrade(e); e.dispose()"
    subprocess.run([sys.executable, "-c", code, database_url], check=True, env={**os.environ,
                                                                                "PYTHONPATH": str(app_root)})


if __name__ == "__main__":
    if "--client" in sys.argv:
        client_main()
    else:
        main()
