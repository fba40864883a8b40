"""Presence and viewers in Redis: one truth for every app process.

Each console socket is an entry with an expiry time (sorted-set score). The process that holds
the socket refreshes its entries every third of the TTL; a process that dies stops refreshing, so
its entries count as gone once they expire, and the next heartbeat of any live process removes
them and announces the agents who went offline with them. Same method names as
`presence.Presence`, which is what runs without Redis."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from helpdesk.chat.presence import Gone

log = logging.getLogger(__name__)

# Came online: no live socket of this agent anywhere before this one.
_CONNECT = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local first = redis.call('ZCARD', KEYS[2]) == 0
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[7])
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[4])
redis.call('HSET', KEYS[3], 'public_id', ARGV[5], 'name', ARGV[6])
if first then redis.call('HSET', KEYS[3], 'status', 'online') end
redis.call('EXPIRE', KEYS[3], ARGV[7])
if first then return 1 end
return 0
"""

# Went offline: this was the agent's last live socket in any process.
_DISCONNECT = """
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if #last == 0 then
  return redis.call('ZREM', KEYS[1], ARGV[3])
end
redis.call('ZADD', KEYS[1], last[2], ARGV[3])
return 0
"""

# Remove an agent whose every socket expired; 1 only for the one process that removed it.
# Returns {1, conversations it was viewing...} or {0}.
_REAP = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if score and tonumber(score) <= tonumber(ARGV[1]) and redis.call('ZREM', KEYS[1], ARGV[2]) == 1 then
  redis.call('DEL', KEYS[2])
  local viewing = redis.call('SMEMBERS', KEYS[3])
  redis.call('DEL', KEYS[3])
  -- None of its sockets lives: its entries in those conversations' viewers go now, not at their expiry.
  local mine = ARGV[2] .. '|'
  for _, conversation in ipairs(viewing) do
    local key = ARGV[3] .. conversation
    for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
      if string.sub(member, 1, #mine) == mine then redis.call('ZREM', key, member) end
    end
  end
  table.insert(viewing, 1, 1)
  return viewing
end
return {0}
"""
# Every live agent with its card, in one round trip: id, public_id, name, status, id, ...
# (It names keys it was not given, so it needs one Redis, not a Redis Cluster.)
_LIVE = """
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')) do
  local info = redis.call('HMGET', ARGV[2] .. id, 'public_id', 'name', 'status')
  if info[1] then
    table.insert(out, id); table.insert(out, info[1]); table.insert(out, info[2] or '')
    table.insert(out, info[3] or 'online')
  end
end
return out
"""


@dataclass
class _LocalSocket:
    agent_id: int
    views: set[str] = field(default_factory=set)


class RedisPresence:
    def __init__(self, client: redis.Redis, prefix: str, ttl: float) -> None:
        self.redis = client
        self.prefix = prefix
        self.ttl = max(float(ttl), 1.0)
        self._lock = threading.Lock()
        self._local: dict[str, _LocalSocket] = {}  # this process's console sockets
        self._connect = client.register_script(_CONNECT)
        self._disconnect = client.register_script(_DISCONNECT)
        self._reap = client.register_script(_REAP)
        self._live_script = client.register_script(_LIVE)
        self._heartbeat_started = False
        self._online: tuple[float, set[int]] | None = None  # (read at, ids): see online_agent_ids

    # -- keys --
    def _agents(self) -> str:
        return f"{self.prefix}agents"

    def _socks(self, agent_id: int) -> str:
        return f"{self.prefix}agent:{agent_id}:socks"

    def _agent(self, agent_id: int) -> str:
        return f"{self.prefix}agent:{agent_id}"

    def _viewing(self, agent_id: int) -> str:
        return f"{self.prefix}agent:{agent_id}:viewing"  # a hint for the reaper: may hold left ones

    def _view(self, conversation_id: str) -> str:
        return f"{self.prefix}view:{conversation_id}"

    def _expiry(self) -> tuple[float, float]:
        now = time.time()
        return now, now + self.ttl

    # -- the Presence interface --
    def connect(self, sid: str, agent_id: int, public_id: str, name: str) -> bool:
        self._online = None
        now, expires = self._expiry()
        with self._lock:
            self._local[sid] = _LocalSocket(agent_id)
        first = self._connect(keys=[self._agents(), self._socks(agent_id), self._agent(agent_id)],
                              args=[now, expires, sid, agent_id, public_id, name, int(self.ttl * 2) + 1])
        return bool(first)

    def disconnect(self, sid: str, agent_id: int) -> tuple[bool, list[str]]:
        self._online = None
        with self._lock:
            local = self._local.pop(sid, None)
        left = sorted(local.views) if local else []
        pipe = self.redis.pipeline()
        for conversation_id in left:
            pipe.zrem(self._view(conversation_id), f"{agent_id}|{sid}")
        pipe.execute()
        went = self._disconnect(keys=[self._agents(), self._socks(agent_id)], args=[time.time(), sid, agent_id])
        return bool(went), left

    def set_status(self, agent_id: int, status: str) -> None:
        self._online = None
        if self.redis.zscore(self._agents(), agent_id) is not None:
            self.redis.hset(self._agent(agent_id), "status", status)

    def status_of(self, agent_id: int) -> str:
        score = self.redis.zscore(self._agents(), agent_id)
        if score is None or score <= time.time():
            return "offline"
        return self.redis.hget(self._agent(agent_id), "status") or "online"

    def _live(self) -> list[tuple[int, dict[str, str]]]:
        flat = self._live_script(keys=[self._agents()], args=[time.time(), f"{self.prefix}agent:"])
        return [(int(flat[i]), {"public_id": flat[i + 1], "name": flat[i + 2], "status": flat[i + 3]})
                for i in range(0, len(flat), 4)]

    def online_agent_ids(self, max_age: float = 0.0) -> set[int]:
        """Fresh by default. A caller that only may need it (a shopper's message into a going
        conversation) accepts `max_age` seconds of staleness and saves a Redis round trip per
        message; this process's own changes clear the kept value."""
        cached = self._online
        if max_age > 0 and cached is not None and time.monotonic() - cached[0] < max_age:
            return set(cached[1])
        ids = {agent_id for agent_id, info in self._live() if info.get("status", "online") == "online"}
        self._online = (time.monotonic(), ids)
        return set(ids)

    def roster(self) -> list[dict[str, str]]:
        return [{"id": info.get("public_id", ""), "name": info.get("name", ""), "status": info.get("status", "online")}
                for _, info in sorted(self._live())]

    def view(self, conversation_id: str, sid: str, agent_id: int) -> None:
        with self._lock:
            local = self._local.get(sid)
            if local is not None:
                local.views.add(conversation_id)
        _, expires = self._expiry()
        pipe = self.redis.pipeline()
        pipe.zadd(self._view(conversation_id), {f"{agent_id}|{sid}": expires})
        pipe.expire(self._view(conversation_id), int(self.ttl * 2) + 1)
        pipe.sadd(self._viewing(agent_id), conversation_id)
        pipe.expire(self._viewing(agent_id), int(self.ttl * 2) + 1)
        pipe.execute()

    def leave(self, conversation_id: str, sid: str) -> None:
        with self._lock:
            local = self._local.get(sid)
            if local is None:
                return
            local.views.discard(conversation_id)
            agent_id = local.agent_id
        self.redis.zrem(self._view(conversation_id), f"{agent_id}|{sid}")

    def viewers(self, conversation_id: str) -> list[dict[str, str]]:
        members = self.redis.zrangebyscore(self._view(conversation_id), time.time(), "+inf")
        ids = list(dict.fromkeys(int(m.split("|", 1)[0]) for m in members))
        pipe = self.redis.pipeline()
        for agent_id in ids:
            pipe.hmget(self._agent(agent_id), "public_id", "name")
        return [{"id": public_id, "name": name} for public_id, name in pipe.execute() if public_id]

    # -- keeping entries alive, and clearing those of dead processes --
    def refresh(self) -> None:
        """Push this process's sockets' expiry forward (the heartbeat)."""
        _, expires = self._expiry()
        keep = int(self.ttl * 2) + 1
        with self._lock:
            local = {sid: (s.agent_id, set(s.views)) for sid, s in self._local.items()}
        pipe = self.redis.pipeline()
        for sid, (agent_id, views) in local.items():
            pipe.zadd(self._socks(agent_id), {sid: expires})
            pipe.expire(self._socks(agent_id), keep)
            pipe.zadd(self._agents(), {str(agent_id): expires}, gt=True)
            pipe.expire(self._agent(agent_id), keep)
            pipe.expire(self._viewing(agent_id), keep)
            for conversation_id in views:
                pipe.zadd(self._view(conversation_id), {f"{agent_id}|{sid}": expires})
                pipe.expire(self._view(conversation_id), keep)
        pipe.execute()

    def reap(self) -> list[Gone]:
        """Agents whose every socket expired (a process died), each returned by exactly one
        process, which announces them and refreshes the viewers of what they were viewing."""
        now = time.time()
        gone = []
        for raw in self.redis.zrangebyscore(self._agents(), "-inf", now):
            agent_id = int(raw)
            info = self.redis.hmget(self._agent(agent_id), "public_id", "name")
            removed, *viewing = self._reap(keys=[self._agents(), self._socks(agent_id), self._viewing(agent_id)],
                                           args=[now, agent_id, f"{self.prefix}view:"])
            if removed:
                gone.append(Gone(agent_id, info[0] or "", info[1] or "", tuple(sorted(viewing))))
        return gone

    def ensure_heartbeat(self, start: Callable[..., Any], sleep: Callable[[float], Any],
                         on_offline: Callable[[list[Gone]], None]) -> None:
        """Start this process's heartbeat once (on its first console socket, not at import)."""
        with self._lock:
            if self._heartbeat_started:
                return
            self._heartbeat_started = True

        def beat() -> None:
            while True:
                sleep(self.ttl / 3)
                try:
                    self.refresh()
                    if gone := self.reap():
                        self._online = None
                        on_offline(gone)
                except Exception:  # Redis away for a moment: try again next beat
                    log.exception("presence heartbeat failed")

        start(beat)

