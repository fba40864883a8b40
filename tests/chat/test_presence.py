"""Presence and viewers (in memory, and in Redis shared by processes) and the flood gate."""

from __future__ import annotations

import uuid
from typing import Any

import redis

from helpdesk.chat import throttle
from helpdesk.chat.presence import Presence
from helpdesk.chat.presence_redis import RedisPresence
from helpdesk.config import DEFAULTS
from tests.servers import wait_until


def test_flood_gate_refuses_past_the_burst_and_allows_again_after_the_window() -> None:
    gate = throttle.from_settings({**DEFAULTS, "CHAT_FLOOD_BURST": 3, "CHAT_FLOOD_WINDOW_SECONDS": 1},
                                  "memory://", "t")
    assert [gate.flood(1) for _ in range(4)] == [True, True, True, False]
    assert gate.flood(2) is True  # another visitor is not affected
    wait_until(lambda: gate.flood(1), timeout=5, message="the first messages to leave the window")


def test_agent_is_online_while_any_socket_is_open_and_away_is_not_online() -> None:
    presence = Presence()
    assert presence.connect("s1", 7, "ag_7", "Bea") is True
    assert presence.connect("s2", 7, "ag_7", "Bea") is False  # a second tab
    assert presence.online_agent_ids() == {7}
    presence.set_status(7, "away")
    assert presence.online_agent_ids() == set() and presence.status_of(7) == "away"
    assert presence.disconnect("s1", 7) == (False, [])
    went_offline, _ = presence.disconnect("s2", 7)
    assert went_offline and presence.status_of(7) == "offline"


def test_viewers_are_listed_once_per_agent_and_leave_with_their_socket() -> None:
    presence = Presence()
    presence.connect("s1", 1, "ag_1", "Ann")
    presence.connect("s2", 1, "ag_1", "Ann")
    presence.connect("s3", 2, "ag_2", "Bob")
    for sid, agent in (("s1", 1), ("s2", 1), ("s3", 2)):
        presence.view("cv_1", sid, agent)
    assert [v["name"] for v in presence.viewers("cv_1")] == ["Ann", "Bob"]
    _, left = presence.disconnect("s3", 2)
    assert left == ["cv_1"] and [v["name"] for v in presence.viewers("cv_1")] == ["Ann"]


def test_redis_presence_is_shared_by_two_processes_and_a_dead_ones_agents_expire(redis_server: Any) -> None:
    """Two RedisPresence objects stand for two app processes on one Redis."""
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    prefix = f"unit{uuid.uuid4().hex}:"
    a, b = RedisPresence(client, prefix, ttl=1), RedisPresence(client, prefix, ttl=1)
    assert a.connect("sa", 7, "ag_7", "Bea") is True
    assert b.connect("sb", 7, "ag_7", "Bea") is False  # a second tab, on the other process
    assert b.online_agent_ids() == {7} and a.status_of(7) == "online"
    b.set_status(7, "away")
    assert a.online_agent_ids() == set() and a.roster() == [{"id": "ag_7", "name": "Bea", "status": "away"}]
    a.view("cv_1", "sa", 7)
    b.connect("sc", 8, "ag_8", "Cy")
    b.view("cv_1", "sc", 8)
    assert sorted(v["name"] for v in a.viewers("cv_1")) == ["Bea", "Cy"]
    assert a.disconnect("sa", 7) == (False, ["cv_1"])  # Bea is still on b
    assert [v["name"] for v in b.viewers("cv_1")] == ["Cy"]
    # Process b dies: nothing disconnects, nothing refreshes. a keeps beating and clears b's agents once.
    wait_until(lambda: a.status_of(8) == "offline", timeout=5, message="b's agents to expire")
    assert a.viewers("cv_1") == []
    gone = a.reap()
    assert sorted((g.name, g.conversations) for g in gone) == [("Bea", ("cv_1",)), ("Cy", ("cv_1",))]
    assert a.reap() == []
