"""What every CRM provider offers: plain dataclasses in, plain dataclasses out, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class CRMError(Exception):
    """A call to the CRM failed; transient unless a subclass says otherwise."""


class RateLimited(CRMError):
    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(f"{message} (retry after {retry_after:g} s)")
        self.retry_after = retry_after


class AuthExpired(CRMError):
    """The credentials were refused: retrying cannot help until an admin fixes them."""


class BadResponse(CRMError):
    """A 5xx, a timeout or a body that is not the JSON the API documents: retry later."""


class Rejected(CRMError):
    """The CRM refused this request for good (a 4xx other than auth and rate limits)."""


@dataclass
class CRMDeal:
    external_id: str
    name: str
    amount: str | None = None
    stage: str | None = None
    close_date: str | None = None
    url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.external_id,
            "name": self.name,
            "amount": self.amount,
            "stage": self.stage,
            "close_date": self.close_date,
            "url": self.url,
        }


@dataclass
class CRMContact:
    external_id: str
    email: str | None = None
    name: str | None = None
    phone: str | None = None
    company: str | None = None
    lifecycle: str | None = None
    owner: str | None = None
    deals: list[CRMDeal] = field(default_factory=list)
    url: str | None = None
    updated_at: datetime | None = None


@dataclass
class ContactPage:
    """One page of a pull. `after` resumes the same query; `restart_since` starts a new query
    from that time (HubSpot's search stops paging after 10,000 results)."""

    contacts: list[CRMContact]
    after: str | None = None
    restart_since: datetime | None = None
    problems: list[str] = field(default_factory=list)  # partial failures: what could not be read
    requests: int = 1
    total: int | None = None  # how many records the query matches, when the CRM says


@dataclass
class RemoteTicket:
    external_id: str
    url: str | None = None


@dataclass
class ConversationPush:
    """What the CRM hears of a conversation; built above crm/ from ticket data."""

    conversation_id: int
    ref: str
    subject: str
    status: str
    channel: str
    customer_email: str | None
    customer_name: str | None
    transcript: str = ""
    first_message: str = ""
    url: str | None = None


class CRMProvider(Protocol):
    name: str
    label: str

    def pull_contacts(self, since: datetime | None, after: str | None) -> ContactPage: ...

    def get_contacts(self, external_ids: list[str]) -> list[CRMContact]: ...

    def find_contact(self, email: str) -> CRMContact | None: ...

    def create_contact(self, email: str, name: str | None, phone: str | None) -> CRMContact: ...

    def find_ticket(self, ref: str) -> RemoteTicket | None: ...

    def create_ticket(self, contact_id: str, push: ConversationPush) -> RemoteTicket: ...

    def update_ticket(self, ticket_id: str, push: ConversationPush) -> None: ...

    def add_transcript(self, ticket_id: str, contact_id: str | None, push: ConversationPush) -> None: ...

    def record_csat(self, ticket_id: str, contact_id: str | None, score: int, comment: str) -> None: ...

    def record_url(self, object_type: str, external_id: str) -> str: ...

    def delete_contact(self, external_id: str) -> None:
        """GDPR: delete the contact for good; a contact already gone is no error."""
        ...
