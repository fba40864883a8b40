"""What the chat room keeps while the app runs, chosen from settings in chat.init_app and kept on
`app.extensions["helpdesk.chat"]`: presence and viewers, and the throttle. With
HELPDESK_REDIS_URL both live in Redis, shared by every app process; without it, in memory."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from helpdesk.chat import throttle
from helpdesk.chat.presence import Presence
from helpdesk.chat.presence_redis import RedisPresence

KEY = "helpdesk.chat"


@dataclass
class ChatState:
    presence: Presence | RedisPresence
    throttle: throttle.Throttle


def init_state(app: Flask) -> ChatState:
    config = app.config
    prefix = str(config["CHAT_REDIS_PREFIX"])
    presence: Presence | RedisPresence
    if url := config.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5, health_check_interval=30)
        presence = RedisPresence(client, prefix + "presence:", float(config["CHAT_PRESENCE_TTL_SECONDS"]))
    else:
        presence = Presence()
    state = ChatState(presence, throttle.from_settings(config, config["RATELIMIT_STORAGE_URI"], prefix + "rate"))
    app.extensions[KEY] = state
    return state


def state_of(app: Flask) -> ChatState:
    return app.extensions[KEY]
