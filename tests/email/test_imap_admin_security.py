"""Issue 12 finding 13: the stored IMAP password goes only to the server it was typed for, and the
helpdesk never connects to link-local, metadata or (unless allowed) loopback addresses."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from flask import Flask

from helpdesk import db_of
from helpdesk.tickets.email import hosts
from helpdesk.tickets.email.imap import ImapConfig, connect
from helpdesk.tickets.models import Inbox
from tests.conftest import csrf_token, login, make_agent
from tests.email.conftest import SUPPORT, EmailInbox


@pytest.fixture
def admin_http(app: Flask, client: Any) -> Any:
    make_agent(app, "root@example.com", "admin")
    login(client, "root@example.com")
    return client


def save(client: Any, inbox: EmailInbox, **fields: str) -> str:
    form = {"csrf_token": csrf_token(client, "/admin/mail"), "imap_host": "imap.shop.example", "imap_port": "993",
            "imap_tls": "ssl", "imap_user": SUPPORT, "imap_password": "", "imap_folder": "INBOX", **fields}
    answer = client.post(f"/admin/mail/inbox/{inbox.public_id}", data=form, follow_redirects=True)
    return answer.get_data(as_text=True)


def imap_settings(app: Flask, inbox: EmailInbox) -> dict[str, Any]:
    with db_of(app).sessions() as s:
        return dict(s.get(Inbox, inbox.id).settings.get("imap") or {})


def test_the_stored_password_is_not_sent_to_a_changed_host_port_security_or_user(
        app: Flask, admin_http: Any, inbox: EmailInbox) -> None:
    save(admin_http, inbox, imap_password="first-pw")
    assert imap_settings(app, inbox)["password"] == "first-pw"
    save(admin_http, inbox, imap_folder="Support")  # same account: the password stays
    assert imap_settings(app, inbox)["folder"] == "Support"
    assert imap_settings(app, inbox)["password"] == "first-pw"
    for change in ({"imap_host": "imap.attacker.example"}, {"imap_port": "1993"}, {"imap_tls": "none"},
                   {"imap_user": "other@shop.example"}):
        page = save(admin_http, inbox, **change)
        assert "enter the password again" in page
        assert imap_settings(app, inbox)["host"] == "imap.shop.example"
        assert imap_settings(app, inbox)["password"] == "first-pw"
    save(admin_http, inbox, imap_host="imap2.shop.example", imap_password="second-pw")
    assert (imap_settings(app, inbox)["host"], imap_settings(app, inbox)["password"]) == ("imap2.shop.example",
                                                                                          "second-pw")


@pytest.mark.parametrize("host", ["169.254.169.254", "0.0.0.0", "169.254.1.1", "127.0.0.1"])
def test_link_local_metadata_unspecified_and_loopback_hosts_are_refused(
        app: Flask, admin_http: Any, inbox: EmailInbox, host: str) -> None:
    app.config["IMAP_ALLOW_LOOPBACK"] = False
    page = save(admin_http, inbox, imap_host=host, imap_password="pw")
    assert f"{host} is a" in page
    assert imap_settings(app, inbox) == {}


def test_loopback_is_allowed_with_the_setting(app: Flask, admin_http: Any, inbox: EmailInbox) -> None:
    app.config["IMAP_ALLOW_LOOPBACK"] = True
    save(admin_http, inbox, imap_host="127.0.0.1", imap_password="pw")
    assert imap_settings(app, inbox)["host"] == "127.0.0.1"


@pytest.mark.parametrize("address", ["fd00:ec2::254", "fe80::1", "::", "::ffff:169.254.169.254", "224.0.0.1"])
def test_metadata_and_link_local_ipv6_are_blocked(address: str) -> None:
    assert hosts.refusal(ipaddress.ip_address(address), allow_loopback=True)


def test_private_networks_stay_allowed() -> None:
    for address in ("10.0.0.5", "192.168.1.10", "172.16.0.1", "2001:db8::1"):
        assert hosts.refusal(ipaddress.ip_address(address), allow_loopback=False) is None


def test_connect_checks_what_a_name_resolves_to() -> None:
    config = ImapConfig("localhost", 1, "none", "u", "p")
    with pytest.raises(hosts.HostRefused, match="loopback"):
        connect(config, allow_loopback=False)
