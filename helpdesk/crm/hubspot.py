"""HubSpot through hubspot-api-client: CRM v3 objects, search, associations v4. No database here."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.notes import AssociationSpec as NoteAssociationSpec
from hubspot.crm.objects.notes import PublicAssociationsForObject as NoteAssociations
from hubspot.crm.objects.notes import PublicObjectId as NoteTarget
from hubspot.crm.objects.notes import SimplePublicObjectInputForCreate as NoteCreate
from hubspot.crm.tickets import AssociationSpec as TicketAssociationSpec
from hubspot.crm.tickets import PublicAssociationsForObject as TicketAssociations
from hubspot.crm.tickets import PublicObjectId as TicketTarget
from hubspot.crm.tickets import SimplePublicObjectInput as TicketUpdate
from hubspot.crm.tickets import SimplePublicObjectInputForCreate as TicketCreate

from helpdesk.crm.provider import (
    AuthExpired,
    BadResponse,
    ContactPage,
    ConversationPush,
    CRMContact,
    CRMDeal,
    CRMError,
    RateLimited,
    Rejected,
    RemoteTicket,
)
from helpdesk.crm.throttle import Throttle

T = TypeVar("T")
DEFAULT_API_URL = "https://api.hubapi.com"
PAGE_SIZE = 100
SEARCH_RESULT_CAP = 10_000  # the search API refuses `after` past 10,000 results
CONTACT_PROPERTIES = [
    "email",
    "firstname",
    "lastname",
    "phone",
    "lifecyclestage",
    "hs_lead_status",
    "hubspot_owner_id",
    "associatedcompanyid",
    "num_associated_deals",
    "lastmodifieddate",
]
DEAL_PROPERTIES = ["dealname", "amount", "dealstage", "closedate"]
# HubSpot-defined association type ids (associations v4).
TICKET_TO_CONTACT = 16
NOTE_TO_CONTACT = 202
NOTE_TO_TICKET = 228
PIPELINE_STAGE = {"open": "1", "pending": "2", "snoozed": "3", "resolved": "4"}
EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


def _ms(when: datetime) -> str:
    return str(int(when.timestamp() * 1000))


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class HubSpotProvider:
    name = "hubspot"
    label = "HubSpot"

    def __init__(self, settings: dict[str, Any], client: HubSpot | None = None) -> None:
        token = settings.get("HUBSPOT_ACCESS_TOKEN")
        if not token:
            raise AuthExpired("HubSpot is chosen but HELPDESK_HUBSPOT_ACCESS_TOKEN is not set")
        self.api_url = (settings.get("HUBSPOT_API_URL") or DEFAULT_API_URL).rstrip("/")
        self.portal_id = str(settings.get("HUBSPOT_PORTAL_ID") or "0")
        self.client = client or HubSpot(access_token=token, host=self.api_url)
        # Private apps: 190 requests per 10 s (Professional/Enterprise; 100 on Free/Starter);
        # the search endpoints on top allow 5 requests per second.
        self.throttle = Throttle.parse(settings.get("HUBSPOT_RATE"), "190/10")
        self.search_throttle = Throttle.parse(settings.get("HUBSPOT_SEARCH_RATE"), "5/1")
        self._owners: dict[str, str] | None = None
        self._companies: dict[str, str] = {}
        self.requests = 0

    # -- calls ---------------------------------------------------------------------------------

    def _call(
        self,
        fn: Callable[..., T],
        *args: Any,
        search: bool = False,
        expect: str | None = "results",
        **kwargs: Any,
    ) -> T:
        if search:
            self.search_throttle.wait()
        self.throttle.wait()
        self.requests += 1
        try:
            result = fn(*args, _request_timeout=30, **kwargs)
        except CRMError:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc
        # The client turns a body that is not JSON into an empty model instead of failing.
        if expect and getattr(result, expect, None) is None:
            raise BadResponse(f"HubSpot answered without {expect!r}: not the documented JSON")
        return result

    def _translate(self, exc: Exception) -> CRMError:
        status = getattr(exc, "status", None)
        if status is None:
            # Deserialising a body that is not the documented JSON, or the network itself.
            return BadResponse(f"HubSpot answered something unreadable: {type(exc).__name__}: {exc}"[:500])
        body = _json(getattr(exc, "body", None))
        message = str(body.get("message") or getattr(exc, "reason", "") or "")[:300]
        headers = {k.lower(): v for k, v in dict(getattr(exc, "headers", None) or {}).items()}
        if status == 429:
            policy = str(body.get("policyName") or "")
            retry = headers.get("retry-after")
            seconds = (
                float(retry)
                if retry and retry.replace(".", "", 1).isdigit()
                else (1.0 if policy == "SECONDLY" else 10.0)
            )
            return RateLimited(seconds, f"HubSpot rate limit {policy or ''}".strip())
        if status == 401:
            return AuthExpired(f"HubSpot refused the access token: {message or 'expired or revoked'}")
        if status >= 500:
            return BadResponse(f"HubSpot error {status}: {message or 'server error'}")
        return Rejected(f"HubSpot refused the request ({status}): {message}")

    # -- pull ----------------------------------------------------------------------------------

    def _search(self, filters: list[Filter], after: str | None, limit: int | None = None) -> Any:
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=filters)] if filters else [],
            sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            properties=CONTACT_PROPERTIES,
            limit=limit or PAGE_SIZE,
            after=after,
        )
        return self._call(
            self.client.crm.contacts.search_api.do_search, public_object_search_request=request, search=True
        )

    def pull_contacts(self, since: datetime | None, after: str | None) -> ContactPage:
        filters = (
            [Filter(property_name="lastmodifieddate", operator="GTE", value=_ms(since))] if since else []
        )
        before = self.requests
        result = self._search(filters, after)
        rows = list(result.results or [])
        problems: list[str] = []
        contacts = self._contacts(rows, problems)
        page = ContactPage(contacts=contacts, problems=problems, total=result.total)
        next_after = result.paging.next.after if result.paging and result.paging.next else None
        if next_after and int(next_after) >= SEARCH_RESULT_CAP and contacts:
            # Start a new query from the last change seen: the boundary records come again,
            # which the idempotent upsert absorbs.
            page.restart_since = contacts[-1].updated_at
        else:
            page.after = next_after
        page.requests = self.requests - before
        return page

    def get_contacts(self, external_ids: list[str]) -> list[CRMContact]:
        if not external_ids:
            return []
        request = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in external_ids],
            properties=CONTACT_PROPERTIES,
            properties_with_history=[],
        )
        result = self._call(
            self.client.crm.contacts.batch_api.read, batch_read_input_simple_public_object_id=request
        )
        return self._contacts(list(result.results or []), [])

    def find_contact(self, email: str) -> CRMContact | None:
        result = self._search([Filter(property_name="email", operator="EQ", value=email)], None, 1)
        contacts = self._contacts(list(result.results or []), [])
        return contacts[0] if contacts else None

    def _contacts(self, rows: list[Any], problems: list[str]) -> list[CRMContact]:
        owners = self._owner_names()
        company_ids = {str(p) for r in rows if (p := (r.properties or {}).get("associatedcompanyid"))}
        self._load_companies(company_ids - set(self._companies), problems)
        with_deals = [
            str(r.id) for r in rows if int((r.properties or {}).get("num_associated_deals") or 0) > 0
        ]
        deals = self._deals_of(with_deals, problems)
        contacts = []
        for row in rows:
            p = row.properties or {}
            name = " ".join(x for x in (p.get("firstname"), p.get("lastname")) if x) or None
            contacts.append(
                CRMContact(
                    external_id=str(row.id),
                    email=(p.get("email") or None),
                    name=name,
                    phone=p.get("phone") or None,
                    company=self._companies.get(str(p.get("associatedcompanyid") or "")),
                    lifecycle=p.get("lifecyclestage") or p.get("hs_lead_status") or None,
                    owner=owners.get(str(p.get("hubspot_owner_id") or "")),
                    deals=deals.get(str(row.id), []),
                    url=self.record_url("contact", str(row.id)),
                    updated_at=_parse_time(p.get("lastmodifieddate")) or _parse_time(row.updated_at),
                )
            )
        return contacts

    def _owner_names(self) -> dict[str, str]:
        if self._owners is None:
            result = self._call(self.client.crm.owners.owners_api.get_page, limit=500)
            self._owners = {
                str(o.id): " ".join(x for x in (o.first_name, o.last_name) if x) or (o.email or "")
                for o in (result.results or [])
            }
        return self._owners

    def _load_companies(self, ids: set[str], problems: list[str]) -> None:
        if not ids:
            return
        request = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in sorted(ids)],
            properties=["name", "domain"],
            properties_with_history=[],
        )
        result = self._call(
            self.client.crm.companies.batch_api.read, batch_read_input_simple_public_object_id=request
        )
        for row in result.results or []:
            self._companies[str(row.id)] = (row.properties or {}).get("name") or f"Company {row.id}"
        if missing := ids - {str(r.id) for r in result.results or []}:
            problems.append(
                f"{len(missing)} of {len(ids)} companies could not be read: {', '.join(sorted(missing))}"
            )

    def _deals_of(self, contact_ids: list[str], problems: list[str]) -> dict[str, list[CRMDeal]]:
        if not contact_ids:
            return {}
        request = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in contact_ids]
        )
        result = self._call(
            self.client.crm.associations.v4.batch_api.get_page,
            "contacts",
            "deals",
            batch_input_public_fetch_associations_batch_request=request,
        )
        by_contact: dict[str, list[str]] = {}
        for row in result.results or []:
            by_contact[str(row._from.id)] = [str(t.to_object_id) for t in row.to or []]
        deal_ids = sorted({d for ids in by_contact.values() for d in ids})
        if not deal_ids:
            return {}
        read = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in deal_ids],
            properties=DEAL_PROPERTIES,
            properties_with_history=[],
        )
        deals_result = self._call(
            self.client.crm.deals.batch_api.read, batch_read_input_simple_public_object_id=read
        )
        deals = {}
        for row in deals_result.results or []:
            p = row.properties or {}
            deals[str(row.id)] = CRMDeal(
                external_id=str(row.id),
                name=p.get("dealname") or f"Deal {row.id}",
                amount=p.get("amount"),
                stage=p.get("dealstage"),
                close_date=(p.get("closedate") or "")[:10] or None,
                url=self.record_url("deal", str(row.id)),
            )
        if missing := set(deal_ids) - set(deals):
            problems.append(
                f"{len(missing)} of {len(deal_ids)} deals could not be read: {', '.join(sorted(missing))}"
            )
        return {c: [deals[d] for d in ids if d in deals] for c, ids in by_contact.items()}

    # -- push ----------------------------------------------------------------------------------

    def create_contact(self, email: str, name: str | None, phone: str | None) -> CRMContact:
        first, _, last = (name or "").partition(" ")
        props = {
            k: v
            for k, v in {"email": email, "firstname": first, "lastname": last, "phone": phone or ""}.items()
            if v
        }
        try:
            row = self._call(
                self.client.crm.contacts.basic_api.create,
                expect="id",
                simple_public_object_input_for_create=SimplePublicObjectInputForCreate(properties=props),
            )
        except Rejected as exc:
            # 409: the contact exists (HubSpot says which); use it rather than fail.
            if match := EXISTING_ID.search(str(exc)):
                found = self.get_contacts([match.group(1)])
                if found:
                    return found[0]
            raise
        return self._contacts([row], [])[0]

    def find_ticket(self, ref: str) -> RemoteTicket | None:
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(filters=[Filter(property_name="subject", operator="CONTAINS_TOKEN", value=ref)])
            ],
            properties=["subject"],
            limit=1,
        )
        result = self._call(
            self.client.crm.tickets.search_api.do_search, public_object_search_request=request, search=True
        )
        for row in result.results or []:
            if f"[#{ref}]" in ((row.properties or {}).get("subject") or ""):
                return RemoteTicket(str(row.id), self.record_url("ticket", str(row.id)))
        return None

    def create_ticket(self, contact_id: str, push: ConversationPush) -> RemoteTicket:
        props = {
            "subject": f"[#{push.ref}] {push.subject or 'Conversation'}"[:255],
            "content": push.first_message[:65000],
            "hs_pipeline": "0",
            "hs_pipeline_stage": PIPELINE_STAGE.get(push.status, "1"),
            "source_type": _source(push.channel),
        }
        body = TicketCreate(
            properties=props,
            associations=[
                TicketAssociations(
                    to=TicketTarget(id=contact_id),
                    types=[
                        TicketAssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=TICKET_TO_CONTACT
                        )
                    ],
                )
            ],
        )
        row = self._call(
            self.client.crm.tickets.basic_api.create, simple_public_object_input_for_create=body, expect="id"
        )
        return RemoteTicket(str(row.id), self.record_url("ticket", str(row.id)))

    def update_ticket(self, ticket_id: str, push: ConversationPush) -> None:
        body = TicketUpdate(properties={"hs_pipeline_stage": PIPELINE_STAGE.get(push.status, "1")})
        self._call(
            self.client.crm.tickets.basic_api.update, ticket_id, simple_public_object_input=body, expect="id"
        )

    def _note(self, body: str, ticket_id: str, contact_id: str | None) -> None:
        associations = [
            NoteAssociations(
                to=NoteTarget(id=ticket_id),
                types=[
                    NoteAssociationSpec(
                        association_category="HUBSPOT_DEFINED", association_type_id=NOTE_TO_TICKET
                    )
                ],
            )
        ]
        if contact_id:
            associations.append(
                NoteAssociations(
                    to=NoteTarget(id=contact_id),
                    types=[
                        NoteAssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=NOTE_TO_CONTACT
                        )
                    ],
                )
            )
        note = NoteCreate(
            properties={"hs_timestamp": datetime.now(UTC).isoformat(), "hs_note_body": body},
            associations=associations,
        )
        self._call(
            self.client.crm.objects.notes.basic_api.create,
            simple_public_object_input_for_create=note,
            expect="id",
        )

    def add_transcript(self, ticket_id: str, contact_id: str | None, push: ConversationPush) -> None:
        lines = "<br>".join(html.escape(line) for line in push.transcript.splitlines())
        self._note(
            f"<p><strong>Helpdesk transcript #{html.escape(push.ref)}</strong></p><p>{lines}</p>",
            ticket_id,
            contact_id,
        )

    def record_csat(self, ticket_id: str, contact_id: str | None, score: int, comment: str) -> None:
        text = f"<p><strong>CSAT {score}/5</strong></p>" + (
            f"<p>{html.escape(comment)}</p>" if comment else ""
        )
        self._note(text, ticket_id, contact_id)

    def delete_contact(self, external_id: str) -> None:
        """POST /crm/v3/objects/contacts/gdpr-delete: HubSpot's permanent (GDPR) delete."""
        from hubspot.crm.contacts import PublicGdprDeleteInput

        try:
            self._call(self.client.crm.contacts.basic_api.purge, expect=None,
                       public_gdpr_delete_input=PublicGdprDeleteInput(object_id=str(external_id)))
        except Rejected as exc:
            if "(404)" not in str(exc):
                raise

    def record_url(self, object_type: str, external_id: str) -> str:
        kind = {"contact": "0-1", "company": "0-2", "deal": "0-3", "ticket": "0-5"}.get(object_type, "0-1")
        return f"https://app.hubspot.com/contacts/{self.portal_id}/record/{kind}/{external_id}"


def _source(channel: str) -> str:
    return "EMAIL" if channel == "email" else "CHAT"


def _json(body: Any) -> dict[str, Any]:
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else body
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
