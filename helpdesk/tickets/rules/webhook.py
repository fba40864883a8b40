"""Signed, SSRF-checked POSTs (one implementation, used by the rule action `webhook` and by the
outgoing webhooks in helpdesk/webhooks) and the rule action itself.

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
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3

from helpdesk.errors import Invalid
from helpdesk.jobs import Permanent
from helpdesk.runtime import JobContext

JOB = "rules.webhook"
TIMEOUT_SECONDS = 5.0
MAX_ATTEMPTS = 3
EXCERPT_BYTES = 1024  # of a response, kept in the delivery log


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


def check_url(url: Any, settings: Mapping[str, Any], field: str = "url") -> str:
    """At save time: an http(s) URL whose host is not a private literal (422 otherwise)."""
    if not isinstance(url, str) or len(url) > 2000:
        raise Invalid(field, "an http(s) URL", code="invalid_url")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise Invalid(field, "an http(s) URL", code="invalid_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(field, "an http(s) URL", code="invalid_url")
    check_literal(url, settings)
    return url


def vetted_addresses(url: str, settings: Mapping[str, Any]) -> list[str]:
    """At delivery time, after DNS: every address the name has must be public. The caller connects
    to these very addresses, so a second lookup (DNS rebinding) cannot swap in a private one."""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise Permanent(f"cannot resolve {parts.hostname}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private(settings):
        for address in addresses:
            if _private(address):
                raise Permanent(f"{parts.hostname} resolves to a private address {address}")
    return addresses


def check_resolved(url: str, settings: Mapping[str, Any]) -> None:
    vetted_addresses(url, settings)


@dataclass(frozen=True)
class Answer:
    """What one POST got back; `status` None when nothing came back (connection error, timeout)."""

    status: int | None
    duration_ms: int
    excerpt: str = ""
    retry_after: float | None = None
    error: str | None = None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def signed_post(url: str, *, event: str, delivery_id: str, body: bytes, secret: str,
                settings: Mapping[str, Any], timeout: float, user_agent: str = "Helpdesk-Webhooks/1") -> Answer:
    """POST `body` signed with `secret`, connecting only to the vetted addresses of the URL's host
    (the Host header and TLS SNI/certificate check keep the name). No redirects are followed."""
    parts = urlsplit(url)
    addresses = vetted_addresses(url, settings)
    timestamp = str(int(time.time()))
    host_header = parts.netloc.rpartition("@")[2]
    headers = {"Host": host_header, "Content-Type": "application/json", "User-Agent": user_agent,
               "X-Helpdesk-Event": event, "X-Helpdesk-Delivery": delivery_id,
               "X-Helpdesk-Timestamp": timestamp, "X-Helpdesk-Signature": signature(secret, timestamp, body)}
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    started = time.monotonic()
    error = "no address"
    for address in addresses:
        pool: urllib3.HTTPConnectionPool
        if parts.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(address, port, server_hostname=parts.hostname,
                                               assert_hostname=parts.hostname, cert_reqs="CERT_REQUIRED",
                                               ca_certs=certifi.where(), maxsize=1)
        else:
            pool = urllib3.HTTPConnectionPool(address, port, maxsize=1)
        try:
            response = pool.urlopen("POST", path, body=body, headers=headers, retries=False, redirect=False,
                                    timeout=urllib3.Timeout(connect=timeout, read=timeout),
                                    preload_content=False, assert_same_host=False)
            try:
                excerpt = response.read(EXCERPT_BYTES, decode_content=False)
            finally:
                response.release_conn()
            return Answer(response.status, int((time.monotonic() - started) * 1000),
                          excerpt.decode("utf-8", "replace"), _retry_after(response.headers.get("Retry-After")))
        except urllib3.exceptions.NewConnectionError as exc:
            error = f"cannot connect to {address}: {exc}"  # the next vetted address may answer
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return Answer(None, int((time.monotonic() - started) * 1000), error=f"{type(exc).__name__}: {exc}")
        finally:
            pool.close()
    return Answer(None, int((time.monotonic() - started) * 1000), error=error)


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
    body = json.dumps({"id": payload["delivery_id"], "event": payload["event"],
                       "created_at": payload["created_at"], "data": payload["data"]},
                      separators=(",", ":")).encode()
    answer = signed_post(str(payload["url"]), event=str(payload["event"]), delivery_id=str(payload["delivery_id"]),
                         body=body, secret=secret_of(ctx.settings), settings=ctx.settings,
                         timeout=TIMEOUT_SECONDS, user_agent="Helpdesk-Rules/1")
    if answer.status is None:
        raise RuntimeError(f"webhook not reached: {answer.error}")  # retried with backoff
    if answer.status >= 500 or answer.status == 429:
        raise RuntimeError(f"webhook answered {answer.status}")
    if answer.status >= 400:
        raise Permanent(f"webhook answered {answer.status}")
