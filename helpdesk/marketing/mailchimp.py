"""A Mailchimp audience through the `mailchimp-marketing` client: subscribe, unsubscribe, forget.

Speaks one API and touches no database. Errors come back as three kinds: `RateLimited` (429:
wait and ask again), `Unavailable` (5xx, timeouts, no connection: retry with backoff) and
`Refused` (any other 4xx: asking again cannot help; its message is Mailchimp's own title and
detail, e.g. "Member In Compliance State")."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import requests
from mailchimp_marketing import Client
from mailchimp_marketing.api_client import ApiClientError

TIMEOUT_SECONDS = 10.0


class MailchimpError(Exception):
    def __init__(self, message: str, status: int | None = None, title: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.title = title


class RateLimited(MailchimpError):
    pass


class Unavailable(MailchimpError):
    pass


class Refused(MailchimpError):
    pass


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lowercased address."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class MailchimpSettings:
    api_key: str
    list_id: str
    api_url: str | None = None  # e.g. a fake's http://127.0.0.1:PORT/3.0; None: from the key's "-us21"
    erase: str = "delete-permanent"  # or "archive"

    @classmethod
    def from_config(cls, settings: Any) -> MailchimpSettings | None:
        """None unless HELPDESK_MAILCHIMP_API_KEY and HELPDESK_MAILCHIMP_LIST_ID are both set."""
        key, list_id = settings.get("MAILCHIMP_API_KEY"), settings.get("MAILCHIMP_LIST_ID")
        if not key or not list_id:
            return None
        erase = str(settings.get("MAILCHIMP_ERASE") or "delete-permanent")
        return cls(str(key), str(list_id), settings.get("MAILCHIMP_API_URL") or None,
                   erase if erase in ("delete-permanent", "archive") else "delete-permanent")


class Audience:
    def __init__(self, settings: MailchimpSettings, timeout: float = TIMEOUT_SECONDS) -> None:
        self.list_id = settings.list_id
        self.erase_mode = settings.erase
        # The client takes the data centre from the key's suffix ("...-us21") and puts it in
        # place of "server" in https://server.api.mailchimp.com/3.0.
        self.client = Client({"api_key": settings.api_key, "timeout": timeout})
        if settings.api_url:
            self.client.api_client.host = settings.api_url.rstrip("/")
            self.client.api_client.server = ""  # no "server" substitution in an explicit URL

    def set_subscribed(self, email: str, subscribed: bool) -> dict[str, Any]:
        """PUT the member: created when new, its status changed when not."""
        status = "subscribed" if subscribed else "unsubscribed"
        body = {"email_address": email, "status_if_new": status, "status": status}
        return self._call(lambda: self.client.lists.set_list_member(self.list_id, subscriber_hash(email), body))

    def forget(self, member_hash: str) -> bool:
        """GDPR erase: permanently delete (or archive) the member; False when it was not there."""
        try:
            if self.erase_mode == "archive":
                self._call(lambda: self.client.lists.delete_list_member(self.list_id, member_hash))
            else:
                self._call(lambda: self.client.lists.delete_list_member_permanent(self.list_id, member_hash))
        except Refused as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _call(self, fn: Any) -> Any:
        try:
            result = fn()
        except ApiClientError as exc:
            raise _error(exc) from None
        if isinstance(result, requests.Response) and not result.ok:
            # An error without a body or content type comes back as the bare response.
            raise _error(ApiClientError(result.text, result.status_code))
        return result if isinstance(result, dict) else {}


def _error(exc: ApiClientError) -> MailchimpError:
    status = exc.status_code
    if status is None:  # the client wraps connection errors and timeouts without a status
        return Unavailable(f"Mailchimp did not answer: {exc.text}")
    problem = _problem(exc.text)
    title = str(problem.get("title") or "")
    detail = str(problem.get("detail") or "")
    message = f"Mailchimp {status}: {title}" + (f" — {detail}" if detail else "") if title or detail \
        else f"Mailchimp {status}: {str(exc.text)[:300]}"
    if status == 429:
        return RateLimited(message, status, title)
    if status >= 500:
        return Unavailable(message, status, title)
    return Refused(message, status, title)


def _problem(text: Any) -> dict[str, Any]:
    # Errors come as application/problem+json, which the client does not parse: it hands us the text.
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text) if isinstance(text, str | bytes) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
