"""The `webhook` action: one signed POST from the worker, refused for private targets.

Integrators who want retries with a delivery log use the outgoing webhooks (their own room); a
rule's webhook is the small thing: at most a few attempts, a short timeout, no redirects.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from helpdesk.errors import Invalid
from helpdesk.jobs import Permanent
from helpdesk.runtime import JobContext

JOB = "rules.webhook"
TIMEOUT_SECONDS = 5.0
MAX_ATTEMPTS = 3


def allow_private(settings: Mapping[str, Any]) -> bool:
    return str(settings.get("WEBHOOK_ALLOW_PRIVATE") or "").lower() in ("1", "true", "yes")


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_literal(url: str, settings: Mapping[str, Any]) -> None:
    """At save time, without DNS: an IP literal or localhost that is private is refused (422)."""
    if allow_private(settings):
        return
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        raise Invalid("webhook", "points at this machine", code="private_address")
    try:
        private = _private(host)
    except ValueError:
        return  # a name: resolved and checked at delivery time
    if private:
        raise Invalid("webhook", "points at a private, loopback or link-local address", code="private_address")


def check_resolved(url: str, settings: Mapping[str, Any]) -> None:
    """At delivery time, after DNS: every address the name has must be public."""
    if allow_private(settings):
        return
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise Permanent(f"cannot resolve {parts.hostname}: {exc}") from None
    for info in infos:
        if _private(str(info[4][0])):
            raise Permanent(f"{parts.hostname} resolves to a private address {info[4][0]}")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def secret_of(settings: Mapping[str, Any]) -> str:
    # A key of its own, derived from the app secret: the receiver is given this, never SECRET_KEY.
    configured = settings.get("RULE_WEBHOOK_SECRET")
    if configured:
        return str(configured)
    return hmac.new(str(settings["SECRET_KEY"]).encode(), b"rule-webhooks", hashlib.sha256).hexdigest()


def post_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    """No transaction is open here: the network call happens outside any."""
    url = str(payload["url"])
    check_resolved(url, ctx.settings)
    body = json.dumps({"id": payload["delivery_id"], "event": payload["event"],
                       "created_at": payload["created_at"], "data": payload["data"]},
                      separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "Helpdesk-Rules/1",
               "X-Helpdesk-Event": str(payload["event"]), "X-Helpdesk-Delivery": str(payload["delivery_id"]),
               "X-Helpdesk-Timestamp": timestamp,
               "X-Helpdesk-Signature": signature(secret_of(ctx.settings), timestamp, body)}
    response = requests.post(url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False)
    if response.status_code >= 500 or response.status_code == 429:
        raise RuntimeError(f"webhook answered {response.status_code}")  # retried with backoff
    if response.status_code >= 400:
        raise Permanent(f"webhook answered {response.status_code}")
