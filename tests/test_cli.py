"""The `helpdesk` command as PROTOCOL.md names it, run as a real subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from helpdesk.accounts.models import Agent
from helpdesk.db import Database
from helpdesk.tickets.models import Inbox
from tests.conftest import ROOT, LiveServer, start_live_server, stop_live_server
from tests.servers import wait_until


def helpdesk(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELPDESK_DATABASE_URL": database_url, "HELPDESK_INSTANCE_PATH": str(tmp_path / "inst"),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "helpdesk", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def test_create_agent_inbox_and_api_token_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    made = helpdesk(database_url, tmp_path, "create-agent", "ops@shop.example", "--password", "ops long password 1",
                    "--role", "admin", "--name", "Ops")
    assert made.returncode == 0, made.stderr
    assert "created admin ops@shop.example" in made.stdout
    site_key = helpdesk(database_url, tmp_path, "inbox", "create", "Chat", "--channel", "chat").stdout.strip()
    ingest = helpdesk(database_url, tmp_path, "inbox", "create", "Mail", "--channel", "email",
                      "--address", "help@shop.example").stdout.strip()
    token = helpdesk(database_url, tmp_path, "api-token", "create", "ops@shop.example").stdout.strip()
    assert token.startswith("hd_") and ingest.startswith("ing_") and len(site_key) >= 16
    db = Database(database_url)
    with db.unit_of_work() as s:
        assert s.scalar(select(Agent.role).filter_by(email="ops@shop.example")).value == "admin"
        assert s.scalar(select(Inbox.site_key).filter_by(name="Chat")) == site_key
    db.dispose()


@pytest.mark.parametrize(("args", "message"), [
    (("create-agent", "not-an-email", "--password", "ops long password 1"), "not a valid email"),
    (("create-agent", "x@shop.example", "--password", "pw"), "at least 10"),
    (("api-token", "create", "ghost@shop.example"), "no agent with email"),
    (("inbox", "create", "Mail", "--channel", "email", "--address", "bad"), "not a valid email"),
])
def test_bad_command_line_input_fails_clearly_and_changes_nothing(database_url: str, tmp_path: Path,
                                                                   args: tuple[str, ...], message: str) -> None:
    result = helpdesk(database_url, tmp_path, *args)
    assert result.returncode == 2 and message in result.stderr
    db = Database(database_url)
    with db.unit_of_work() as s:
        assert s.scalars(select(Agent)).all() == [] and s.scalars(select(Inbox)).all() == []
    db.dispose()


def test_run_serves_the_login_page_and_the_api(live_server: LiveServer) -> None:
    page = requests.get(f"{live_server.url}/login", timeout=10)
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    api = requests.get(f"{live_server.url}/api/v1/conversations", timeout=10)
    assert api.status_code == 401 and api.json()["error"]["code"] == "invalid_token"


def test_run_migrates_an_empty_database_and_generates_a_secret_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    env = {"HELPDESK_SECRET_KEY": ""}
    server = start_live_server(tmp_path, url, env=env)
    try:
        assert requests.get(f"{server.url}/login", timeout=10).status_code == 200
        secret = (tmp_path / "instance" / "secret_key").read_text()
    finally:
        stop_live_server(server)
    server = start_live_server(tmp_path, url, env=env)
    try:
        assert requests.get(f"{server.url}/login", timeout=10).status_code == 200
        assert (tmp_path / "instance" / "secret_key").read_text() == secret
    finally:
        stop_live_server(server)


def test_demo_prints_urls_and_logins_and_serves_demo_data(tmp_path: Path) -> None:
    server = start_live_server(tmp_path, "", command="demo", env={"HELPDESK_DATABASE_URL": ""})
    try:
        wait_until(lambda: "agent@example.com" in server.output(), timeout=20, message="the demo banner")
        out = server.output()
        assert "/demo/shop" in out and "manager@example.com / demo" in out
        s = requests.Session()
        login = s.get(f"{server.url}/login", timeout=10).text
        token = login.split('name="csrf_token" value="')[1].split('"')[0]
        s.post(f"{server.url}/login", data={"email": "agent@example.com", "password": "demo", "csrf_token": token},
               timeout=10)
        queue = s.get(f"{server.url}/console?view=all", timeout=10)
        assert "Where is my order #1001?" in queue.text
        assert requests.get(f"{server.url}/demo/shop", timeout=10).status_code == 200
        favicon = requests.get(f"{server.url}/favicon.ico", timeout=10)
        assert favicon.status_code == 200 and favicon.headers["Content-Type"].startswith("image/svg+xml")
        # An email reply in the demo is really handed over by SMTP, to the local test mailbox.
        href = re.search(r'href="(/console/c/[^"]+)">Bruno Costa', queue.text)
        assert href, "the email conversation's row"
        page = s.get(server.url + href.group(1), timeout=10).text
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        s.post(server.url + href.group(1) + "/reply", data={"csrf_token": csrf, "body": "Label attached."},
               timeout=10)
        new_mail = tmp_path / "instance" / "demo-mail" / "new"
        wait_until(lambda: new_mail.is_dir() and any(new_mail.iterdir()), timeout=20, message="the mail in the sink")
        wait_until(lambda: 'd-sent' in s.get(server.url + href.group(1), timeout=10).text, timeout=10,
                   message="the reply shown as sent")
        assert "d-failed" not in s.get(server.url + href.group(1), timeout=10).text
        # The banner is not buried: no Alembic lines, no line per request.
        out = server.output()
        assert "alembic" not in out and "GET /login" not in out and "demo-mail" in out

        # A second demo on the same port fails clearly, before it touches the running one's database.
        demo_db = tmp_path / "instance" / "demo.sqlite"
        before = demo_db.stat().st_mtime_ns, demo_db.stat().st_size
        port = server.url.rsplit(":", 1)[1]
        env = {**os.environ, "HELPDESK_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT),
               "HELPDESK_DATABASE_URL": ""}
        second = subprocess.run([sys.executable, "-m", "helpdesk", "demo", "--port", port], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert f"port {port}" in second.stderr and "in use" in second.stderr and "Traceback" not in second.stderr
        assert "Helpdesk demo is running" not in second.stdout
        assert (demo_db.stat().st_mtime_ns, demo_db.stat().st_size) == before
        assert "Where is my order #1001?" in s.get(f"{server.url}/console?view=all", timeout=10).text
    finally:
        stop_live_server(server)
