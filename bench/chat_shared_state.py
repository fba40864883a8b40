"""What sharing the chat's live state through Redis costs per operation, next to the in-memory
backend of the same run (one process, Redis on 127.0.0.1): the calls a widget connect and a
shopper's message make (throttle checks, who is online, the flood gate).

    python bench/chat_shared_state.py [--ops 5000] [--agents 20]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from helpdesk.chat import throttle
from helpdesk.chat.presence import Presence
from helpdesk.chat.presence_redis import RedisPresence
from helpdesk.config import DEFAULTS
from tests.servers import start_redis


def per_op(fn: Callable[[int], object], ops: int) -> float:
    start = time.perf_counter()
    for n in range(ops):
        fn(n)
    return (time.perf_counter() - start) / ops * 1e6


def measure(presence: Presence | RedisPresence, gate: throttle.Throttle, ops: int, agents: int) -> dict[str, float]:
    for agent in range(agents):
        presence.connect(f"agent{agent}", agent, f"ag_{agent}", f"Agent {agent}")
    return {
        "online_agent_ids (fresh)": per_op(lambda _n: presence.online_agent_ids(), ops),
        "flood gate (a visitor per call)": per_op(gate.flood, ops),
        "connect checks (address + site)": per_op(
            lambda n: gate.allow(("connect:address", f"10.0.{n % 250}.1"), ("connect:site", "site")), ops),
    }


def main(ops: int, agents: int) -> None:
    server = start_redis()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        prefix = f"bench{uuid.uuid4().hex}:"
        backends = {"memory": (Presence(), throttle.from_settings(DEFAULTS, "memory://", prefix)),
                    "redis": (RedisPresence(client, prefix + "p:", 45),
                              throttle.from_settings(DEFAULTS, server.url, prefix + "r"))}
        print(f"{'operation (µs per call)':44} {'memory':>10} {'redis':>10}")
        rows = {name: measure(presence, gate, ops, agents) for name, (presence, gate) in backends.items()}
        for label in rows["memory"]:
            print(f"{label:44} {rows['memory'][label]:10.1f} {rows['redis'][label]:10.1f}")
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=20)
    args = parser.parse_args()
    main(args.ops, args.agents)
