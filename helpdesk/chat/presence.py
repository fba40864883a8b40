"""Who is connected right now: agents' presence and conversation viewers, in this process's memory.

This is what runs without Redis (one app process). With `HELPDESK_REDIS_URL` set, chat.state picks
`presence_redis.RedisPresence` instead, which has the same methods and is shared by every process."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("online", "away")


@dataclass(frozen=True)
class Gone:
    """An agent whose every socket vanished with a dead process, and what they were viewing."""

    agent_id: int
    public_id: str
    name: str
    conversations: tuple[str, ...] = ()


@dataclass
class AgentSockets:
    agent_id: int
    public_id: str
    name: str
    status: str = "online"
    sids: set[str] = field(default_factory=set)


class Presence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._agents: dict[int, AgentSockets] = {}
        self._viewers: dict[str, dict[str, int]] = defaultdict(dict)  # conversation -> sid -> agent id

    def connect(self, sid: str, agent_id: int, public_id: str, name: str) -> bool:
        """Register a console socket; True when the agent just came online."""
        with self._lock:
            entry = self._agents.get(agent_id)
            first = entry is None or not entry.sids
            if entry is None:
                entry = self._agents[agent_id] = AgentSockets(agent_id, public_id, name)
            if first:
                entry.status = "online"
            entry.sids.add(sid)
            return first

    def disconnect(self, sid: str, agent_id: int) -> tuple[bool, list[str]]:
        """Forget a socket; returns (the agent went offline, conversations it was viewing)."""
        with self._lock:
            left = [conv for conv, sids in self._viewers.items() if sids.pop(sid, None) is not None]
            entry = self._agents.get(agent_id)
            if entry is None:
                return False, left
            entry.sids.discard(sid)
            return not entry.sids, left

    def set_status(self, agent_id: int, status: str) -> None:
        with self._lock:
            if agent_id in self._agents:
                self._agents[agent_id].status = status

    def status_of(self, agent_id: int) -> str:
        entry = self._agents.get(agent_id)
        if entry is None or not entry.sids:
            return "offline"
        return entry.status

    def online_agent_ids(self, max_age: float = 0.0) -> set[int]:
        with self._lock:
            return {a.agent_id for a in self._agents.values() if a.sids and a.status == "online"}

    def roster(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"id": a.public_id, "name": a.name, "status": a.status}
                    for a in self._agents.values() if a.sids]

    def view(self, conversation_id: str, sid: str, agent_id: int) -> None:
        with self._lock:
            self._viewers[conversation_id][sid] = agent_id

    def leave(self, conversation_id: str, sid: str) -> None:
        with self._lock:
            self._viewers.get(conversation_id, {}).pop(sid, None)

    def viewers(self, conversation_id: str) -> list[dict[str, str]]:
        with self._lock:
            ids = dict.fromkeys(self._viewers.get(conversation_id, {}).values())
            return [{"id": self._agents[i].public_id, "name": self._agents[i].name}
                    for i in ids if i in self._agents]

    def ensure_heartbeat(self, start: Callable[..., Any], sleep: Callable[[float], Any],
                         on_offline: Callable[[list[Gone]], None]) -> None:
        """Nothing to keep alive: this memory dies with the process, and its sockets with it."""
