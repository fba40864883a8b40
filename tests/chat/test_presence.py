"""Process-local presence, viewers and the flood gate."""

from __future__ import annotations

from helpdesk.chat import throttle
from helpdesk.chat.presence import Presence
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
