"""The chat's email fallback asks "is the shopper on the widget?" from whichever process runs the
job: with Redis it sees the shopper's socket on any app process (here a separate
`helpdesk worker --once` runs the job while the shopper is on an app process)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from helpdesk import db_of
from helpdesk.actors import agent_actor
from helpdesk.tickets import services as tickets
from helpdesk.tickets.models import Message
from tests.chat.test_live_sockets import Recorder
from tests.conftest import ROOT, LiveServer, make_agent, start_live_server, stop_live_server
from tests.email.conftest import SmtpSink, smtp  # noqa: F401  (the SMTP sink fixture)
from tests.servers import wait_until

W = "/widget"


@pytest.fixture
def prefix(tmp_path: Path) -> str:
    return f"email{os.getpid()}-{abs(hash(str(tmp_path)))}:"


@pytest.fixture
def env(smtp: SmtpSink, redis_server: Any, prefix: str) -> dict[str, str]:  # noqa: F811
    return {"HELPDESK_REDIS_URL": redis_server.url, "HELPDESK_CHAT_REDIS_PREFIX": prefix,
            "HELPDESK_SMTP_URL": smtp.url, "HELPDESK_EMAIL_DOMAIN": "helpdesk.test",
            "HELPDESK_EMAIL_FROM": "support@helpdesk.test", "HELPDESK_CHAT_EMAIL_FALLBACK_SECONDS": "0"}


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp: SmtpSink) -> dict[str, Any]:  # noqa: F811
    # No Redis in this process: Flask-SocketIO keeps a message queue for every later app of the run.
    return {**app_config, "SMTP_URL": smtp.url, "EMAIL_DOMAIN": "helpdesk.test", "EMAIL_FROM": "support@helpdesk.test",
            "CHAT_EMAIL_FALLBACK_SECONDS": 0}


@pytest.fixture
def web(app: Flask, database_url: str, tmp_path: Path, env: dict[str, str]) -> Iterator[LiveServer]:
    # Its own job worker polls once an hour: the job must run in the separate worker below.
    server = start_live_server(tmp_path, database_url, {**env, "HELPDESK_WORKER_POLL_SECONDS": "3600"})
    yield server
    stop_live_server(server)


def answer(app: Flask, conversation_id: str, body: str, database_url: str, env: dict[str, str],
           tmp_path: Path) -> int:
    agent = make_agent(app, f"alice{len(body)}@example.com")
    with db_of(app).unit_of_work() as s:
        message = tickets.post_message(s, agent_actor(agent), tickets.get_conversation(s, conversation_id), body=body)
        message_id = message.id
    worker = subprocess.run(
        [sys.executable, "-m", "helpdesk", "worker", "--once"], cwd=tmp_path, capture_output=True, text=True,
        timeout=60, env={**os.environ, **env, "HELPDESK_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT),
                         "HELPDESK_SECRET_KEY": "live-secret", "HELPDESK_INSTANCE_PATH": str(tmp_path / "worker")})
    assert worker.returncode == 0, worker.stdout + worker.stderr
    return message_id


def test_a_shopper_on_an_app_process_is_not_mailed_by_a_separate_worker(
        app: Flask, site: str, web: LiveServer, smtp: SmtpSink, database_url: str,  # noqa: F811
        env: dict[str, str], tmp_path: Path) -> None:
    shopper = Recorder()
    shopper.client.connect(web.url, namespaces=[W], auth={"site": site}, transports=["websocket"])
    wait_until(lambda: shopper.of("session"), timeout=10, message="the widget session")
    sent = shopper.client.call("message:send", {"client_msg_id": "m1", "body": "Do you ship to Norway?"},
                               namespace=W, timeout=10)
    assert shopper.client.call("contact:update", {"email": "sam@example.com"}, namespace=W, timeout=10)["ok"]
    conversation_id = sent["message"]["conversation_id"]

    online_id = answer(app, conversation_id, "Yes, we do!", database_url, env, tmp_path)
    assert smtp.messages == []
    with db_of(app).sessions() as s:
        assert s.get(Message, online_id).meta.get("email_skipped") == "shopper online"

    shopper.client.disconnect()
    answer(app, conversation_id, "Anything else?", database_url, env, tmp_path)
    wait_until(lambda: smtp.messages, timeout=10, message="the answer mailed to the shopper who left")
    assert smtp.messages[0][1] == ["sam@example.com"]
