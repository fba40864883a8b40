"""Salesforce through simple-salesforce: REST API, SOQL paging, Contacts, Cases. No database here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

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

T = TypeVar("T")
API_VERSION = "59.0"
CONTACT_FIELDS = (
    "Id, Email, FirstName, LastName, Phone, AccountId, Account.Name, Account.Type, Owner.Name, SystemModstamp"
)
# The org's daily API allowance is spent: waiting a little cannot help, waiting a while can.
REQUEST_LIMIT_RETRY = 900.0
MAX_IN_LIST = 2000  # ids in one SOQL IN list: keeps the query well under its 100,000 characters
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CASE_STATUS = {"open": "Working", "pending": "Escalated", "snoozed": "On Hold", "resolved": "Closed"}


def _soql_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if text.endswith("+0000"):
        text = text[:-5] + "+00:00"
    return datetime.fromisoformat(text)


class SalesforceProvider:
    name = "salesforce"
    label = "Salesforce"

    def __init__(self, settings: dict[str, Any], session: requests.Session | None = None) -> None:
        self.instance_url = (settings.get("SALESFORCE_INSTANCE_URL") or "").rstrip("/")
        if not self.instance_url:
            raise AuthExpired("Salesforce is chosen but HELPDESK_SALESFORCE_INSTANCE_URL is not set")
        self.token = settings.get("SALESFORCE_ACCESS_TOKEN")
        self.client_id = settings.get("SALESFORCE_CLIENT_ID")
        self.client_secret = settings.get("SALESFORCE_CLIENT_SECRET")
        if not self.token and not (self.client_id and self.client_secret):
            raise AuthExpired(
                "Salesforce needs HELPDESK_SALESFORCE_ACCESS_TOKEN or CLIENT_ID and CLIENT_SECRET"
            )
        self.session = session or requests.Session()
        if bundle := settings.get("SALESFORCE_CA_BUNDLE"):
            # requests lets REQUESTS_CA_BUNDLE from the environment override session.verify.
            self.session.verify = bundle
            self.session.trust_env = False
        self._sf: Salesforce | None = None
        self.requests = 0

    # -- session -------------------------------------------------------------------------------

    def _fetch_token(self) -> str:
        """OAuth 2.0 client-credentials flow against the org's My Domain (the instance URL)."""
        self.requests += 1
        try:
            response = self.session.post(
                f"{self.instance_url}/services/oauth2/token",
                timeout=30,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
            )
        except requests.RequestException as exc:
            raise BadResponse(f"Salesforce token endpoint unreachable: {exc}") from exc
        if response.status_code in (400, 401):
            raise AuthExpired(f"Salesforce refused the client credentials: {response.text[:200]}")
        try:
            return str(response.json()["access_token"])
        except (ValueError, KeyError) as exc:
            raise BadResponse(
                f"Salesforce token endpoint answered {response.status_code} without a token"
            ) from exc

    def _client(self, refresh: bool = False) -> Salesforce:
        if self._sf is None or refresh:
            if refresh or not self.token:
                if not (self.client_id and self.client_secret):
                    raise AuthExpired(
                        "the Salesforce session expired (INVALID_SESSION_ID); "
                        "set a new HELPDESK_SALESFORCE_ACCESS_TOKEN"
                    )
                self.token = self._fetch_token()
            self._sf = Salesforce(
                instance_url=self.instance_url,
                session_id=self.token,
                version=API_VERSION,
                session=self.session,
            )
        return self._sf

    def _call(self, fn: Callable[[Salesforce], T]) -> T:
        for attempt in (0, 1):
            self.requests += 1
            try:
                return fn(self._client(refresh=attempt == 1))
            except SalesforceExpiredSession as exc:
                if attempt == 0 and self.client_id and self.client_secret:
                    continue  # a new token from the client credentials, then once more
                raise AuthExpired(
                    "the Salesforce session expired (INVALID_SESSION_ID); "
                    "set a new HELPDESK_SALESFORCE_ACCESS_TOKEN"
                ) from exc
            except CRMError:
                raise
            except Exception as exc:
                raise _translate(exc) from exc
        raise AssertionError("unreachable")

    # -- pull ----------------------------------------------------------------------------------

    def pull_contacts(self, since: datetime | None, after: str | None) -> ContactPage:
        before = self.requests
        if after:
            try:
                result = self._call(lambda sf: sf.query_more(after, identifier_is_url=True))
            except Rejected:
                # The query locator expired (they live 15 minutes): start again from the watermark.
                return ContactPage(contacts=[], restart_since=since or EPOCH, requests=self.requests - before)
        else:
            where = ""
            if since:
                stamp = _soql_time(since)
                where = f" WHERE SystemModstamp >= {stamp} OR Account.SystemModstamp >= {stamp}"
                # A changed Opportunity changes its account's contacts' deals. SOQL refuses a
                # semi-join under OR, so the account ids go in as a list.
                changed = _records(
                    self._call(
                        lambda sf: sf.query_all(
                            f"SELECT AccountId FROM Opportunity WHERE SystemModstamp >= {stamp}"
                        )
                    )
                )
                accounts = sorted({r["AccountId"] for r in changed if r.get("AccountId")})[:MAX_IN_LIST]
                if accounts:
                    where += format_soql(" OR AccountId IN {ids}", ids=accounts)
            result = self._call(
                lambda sf: sf.query(
                    f"SELECT {CONTACT_FIELDS} FROM Contact{where} ORDER BY SystemModstamp, Id"
                )
            )
        records = _records(result)
        contacts = self._contacts(records)
        next_url = None if result.get("done") else result.get("nextRecordsUrl")
        page = ContactPage(
            contacts=contacts, after=next_url, total=None if after else result.get("totalSize")
        )
        page.requests = self.requests - before
        return page

    def _contacts(self, records: list[dict[str, Any]]) -> list[CRMContact]:
        account_ids = sorted({r["AccountId"] for r in records if r.get("AccountId")})
        deals: dict[str, list[CRMDeal]] = {}
        if account_ids:
            soql = format_soql(
                "SELECT Id, Name, Amount, StageName, CloseDate, AccountId FROM Opportunity "
                "WHERE AccountId IN {ids} ORDER BY CloseDate DESC",
                ids=account_ids,
            )
            for opp in _records(self._call(lambda sf: sf.query_all(soql))):
                amount = opp.get("Amount")
                deals.setdefault(opp["AccountId"], []).append(
                    CRMDeal(
                        external_id=opp["Id"],
                        name=opp.get("Name") or opp["Id"],
                        amount=None if amount is None else f"{float(amount):.2f}",
                        stage=opp.get("StageName"),
                        close_date=opp.get("CloseDate"),
                        url=self.record_url("Opportunity", opp["Id"]),
                    )
                )
        contacts = []
        for r in records:
            account = r.get("Account") or {}
            owner = r.get("Owner") or {}
            name = " ".join(x for x in (r.get("FirstName"), r.get("LastName")) if x) or None
            contacts.append(
                CRMContact(
                    external_id=r["Id"],
                    email=r.get("Email") or None,
                    name=name,
                    phone=r.get("Phone") or None,
                    company=account.get("Name"),
                    lifecycle=account.get("Type"),
                    owner=owner.get("Name"),
                    deals=deals.get(r.get("AccountId") or "", []),
                    url=self.record_url("Contact", r["Id"]),
                    updated_at=_parse_time(r.get("SystemModstamp")),
                )
            )
        return contacts

    def get_contacts(self, external_ids: list[str]) -> list[CRMContact]:
        if not external_ids:
            return []
        soql = format_soql(f"SELECT {CONTACT_FIELDS} FROM Contact WHERE Id IN {{ids}}", ids=external_ids)
        return self._contacts(_records(self._call(lambda sf: sf.query_all(soql))))

    def find_contact(self, email: str) -> CRMContact | None:
        soql = format_soql(
            f"SELECT {CONTACT_FIELDS} FROM Contact WHERE Email = {{email}} "
            "ORDER BY SystemModstamp DESC LIMIT 1",
            email=email,
        )
        found = self._contacts(_records(self._call(lambda sf: sf.query(soql))))
        return found[0] if found else None

    # -- push ----------------------------------------------------------------------------------

    def create_contact(self, email: str, name: str | None, phone: str | None) -> CRMContact:
        first, _, last = (name or "").rpartition(" ")
        fields = {
            "Email": email,
            "FirstName": first or None,
            "LastName": last or email.split("@")[0],
            "Phone": phone,
        }
        created = self._call(lambda sf: sf.Contact.create({k: v for k, v in fields.items() if v}))
        return CRMContact(
            external_id=str(created["id"]),
            email=email,
            name=name,
            phone=phone,
            url=self.record_url("Contact", str(created["id"])),
        )

    def delete_contact(self, external_id: str) -> None:
        """DELETE /sobjects/Contact/{id} (Salesforce keeps it in the recycle bin for 15 days)."""
        try:
            self._call(lambda sf: sf.Contact.delete(external_id))
        except Rejected as exc:
            if "NOT_FOUND" not in str(exc) and "ENTITY_IS_DELETED" not in str(exc):
                raise

    def find_ticket(self, ref: str) -> RemoteTicket | None:
        soql = format_soql(
            "SELECT Id, Subject FROM Case WHERE Subject LIKE {pattern} LIMIT 1", pattern=f"%[#{ref}]%"
        )
        records = _records(self._call(lambda sf: sf.query(soql)))
        return RemoteTicket(records[0]["Id"], self.record_url("Case", records[0]["Id"])) if records else None

    def create_ticket(self, contact_id: str, push: ConversationPush) -> RemoteTicket:
        fields = {
            "ContactId": contact_id,
            "Subject": f"[#{push.ref}] {push.subject or 'Conversation'}"[:255],
            "Description": push.first_message[:32000],
            "Origin": "Email" if push.channel == "email" else "Web",
            "Status": "New",
            "SuppliedEmail": push.customer_email,
        }
        created = self._call(lambda sf: sf.Case.create({k: v for k, v in fields.items() if v}))
        return RemoteTicket(str(created["id"]), self.record_url("Case", str(created["id"])))

    def update_ticket(self, ticket_id: str, push: ConversationPush) -> None:
        self._call(lambda sf: sf.Case.update(ticket_id, {"Status": CASE_STATUS.get(push.status, "Working")}))

    def add_transcript(self, ticket_id: str, contact_id: str | None, push: ConversationPush) -> None:
        fields = {
            "WhatId": ticket_id,
            "WhoId": contact_id,
            "Subject": f"Helpdesk transcript #{push.ref}",
            "Description": push.transcript[:32000],
            "Status": "Completed",
            "Priority": "Normal",
            "ActivityDate": datetime.now(UTC).date().isoformat(),
        }
        self._call(lambda sf: sf.Task.create({k: v for k, v in fields.items() if v}))

    def record_csat(self, ticket_id: str, contact_id: str | None, score: int, comment: str) -> None:
        body = f"CSAT {score}/5" + (f": {comment}" if comment else "")
        self._call(lambda sf: sf.CaseComment.create({"ParentId": ticket_id, "CommentBody": body[:4000]}))

    def record_url(self, object_type: str, external_id: str) -> str:
        return f"{self.instance_url}/lightning/r/{object_type}/{external_id}/view"


def _records(result: Any) -> list[dict[str, Any]]:
    if not isinstance(result, dict) or not isinstance(result.get("records"), list):
        raise BadResponse("Salesforce answered a query without a records list")
    return result["records"]


def _error_codes(exc: SalesforceError) -> set[str]:
    content = exc.content if isinstance(exc.content, list) else [exc.content]
    return {str(item.get("errorCode")) for item in content if isinstance(item, dict)}


def _translate(exc: Exception) -> CRMError:
    if isinstance(exc, SalesforceRefusedRequest) and "REQUEST_LIMIT_EXCEEDED" in _error_codes(exc):
        return RateLimited(REQUEST_LIMIT_RETRY, "Salesforce REQUEST_LIMIT_EXCEEDED")
    if isinstance(exc, SalesforceError):
        status = getattr(exc, "status", 0) or 0
        if status == 429:
            return RateLimited(60.0, "Salesforce asked to slow down")
        if status >= 500 or not isinstance(exc.content, list | dict):
            return BadResponse(f"Salesforce error {status}: {str(exc.content)[:300]}")
        if isinstance(exc, SalesforceResourceNotFound) or status < 500:
            return Rejected(f"Salesforce refused the request ({status}): {sorted(_error_codes(exc))}")
    if isinstance(exc, requests.RequestException | ValueError):
        return BadResponse(f"Salesforce answered something unreadable: {type(exc).__name__}: {exc}"[:500])
    return BadResponse(f"{type(exc).__name__}: {exc}"[:500])
