"""A fake HubSpot speaking the CRM v3 objects, search, associations v4 and owners paths and JSON."""

from __future__ import annotations

import bisect
import itertools
from datetime import UTC, datetime
from typing import Any

from tests.crm.fakeserver import FakeServer, RateWindow, Reply

SEARCH_CAP = 10_000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _batch(results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> Reply:
    now = iso(int(datetime.now(UTC).timestamp() * 1000))
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if errors:
        body.update(errors=errors, numErrors=len(errors))
        return Reply(207, body)
    return Reply(200, body)


class FakeHubSpot(FakeServer):
    def __init__(
        self,
        token: str = "hs-token",
        rate: tuple[int, float] | None = None,
        search_rate: tuple[int, float] | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        self.expired = False
        self.rate = RateWindow(*rate) if rate else None
        self.search_rate = RateWindow(*search_rate) if search_rate else None
        self.throttled = 0  # 429s answered
        self.throttled_searches = 0
        self.ids = itertools.count(1001)
        self._last_ms = 0  # lastmodifieddate: real time in ms, always rising
        self.contacts: dict[str, dict[str, Any]] = {}
        self.gdpr_deleted: list[str] = []
        self._order: list[tuple[int, int]] = []  # (lastmodified ms, id) sorted, for search paging
        self.companies: dict[str, dict[str, Any]] = {}
        self.deals: dict[str, dict[str, Any]] = {}
        self.contact_deals: dict[str, list[str]] = {}
        self.tickets: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.owners = [
            {
                "id": "77",
                "email": "olga@shop.example",
                "firstName": "Olga",
                "lastName": "Owner",
                "userId": 1,
                "createdAt": iso(0),
                "updatedAt": iso(0),
                "archived": False,
            }
        ]
        objects = r"/crm/v3/objects"
        self.route("POST", rf"{objects}/contacts/search", self.search_contacts)
        self.route(
            "POST", rf"{objects}/contacts/batch/read", lambda **kw: self.batch_read(self.contacts, **kw)
        )
        self.route("POST", rf"{objects}/contacts", self.create_contact)
        self.route(
            "POST", rf"{objects}/companies/batch/read", lambda **kw: self.batch_read(self.companies, **kw)
        )
        self.route("POST", rf"{objects}/deals/batch/read", lambda **kw: self.batch_read(self.deals, **kw))
        self.route("POST", r"/crm/v4/associations/contacts/deals/batch/read", self.contact_deal_assocs)
        self.route("GET", r"/crm/v3/owners/?", lambda **kw: Reply(200, {"results": self.owners}))
        self.route("POST", rf"{objects}/tickets", lambda **kw: self.create(self.tickets, **kw))
        self.route("POST", rf"{objects}/tickets/search", self.search_tickets)
        self.route("PATCH", rf"{objects}/tickets/(?P<oid>\d+)", self.update_ticket)
        self.route("POST", rf"{objects}/notes", lambda **kw: self.create(self.notes, **kw))
        self.route("POST", rf"{objects}/contacts/gdpr-delete", self.gdpr_delete)

    # -- data --------------------------------------------------------------------------------------

    def _obj(self, oid: str, props: dict[str, Any], ms: int) -> dict[str, Any]:
        return {
            "id": oid,
            "properties": {**props, "hs_object_id": oid},
            "createdAt": iso(ms),
            "updatedAt": iso(ms),
            "archived": False,
        }

    def add_contact(self, email: str | None, first: str = "", last: str = "", **props: Any) -> str:
        oid = str(next(self.ids))
        self.contacts[oid] = self._obj(
            oid, {"email": email, "firstname": first, "lastname": last, **props}, 0
        )
        self.touch(oid)
        return oid

    def touch(self, oid: str, **props: Any) -> None:
        """Change a contact: its lastmodifieddate moves to now-on-the-fake-clock."""
        ms = self.tick()
        contact = self.contacts[oid]
        old = contact["properties"].get("lastmodifieddate")
        if old:
            del self._order[bisect.bisect_left(self._order, (int(old), int(oid)))]
        contact["properties"].update(props, lastmodifieddate=str(ms))
        contact["updatedAt"] = iso(ms)
        bisect.insort(self._order, (ms, int(oid)))

    def tick(self) -> int:
        self._last_ms = max(self._last_ms + 1, int(datetime.now(UTC).timestamp() * 1000))
        return self._last_ms

    def add_company(self, name: str) -> str:
        oid = str(next(self.ids))
        self.companies[oid] = self._obj(oid, {"name": name, "domain": ""}, 0)
        return oid

    def add_deal(self, contact_id: str, name: str, amount: str, stage: str) -> str:
        oid = str(next(self.ids))
        self.deals[oid] = self._obj(
            oid,
            {"dealname": name, "amount": amount, "dealstage": stage, "closedate": "2026-12-31T00:00:00Z"},
            0,
        )
        self.contact_deals.setdefault(contact_id, []).append(oid)
        self.touch(contact_id, num_associated_deals=str(len(self.contact_deals[contact_id])))
        return oid

    # -- checks ------------------------------------------------------------------------------------

    def precheck(self, method: str, path: str, headers: dict[str, str]) -> Reply | None:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if self.expired:
            return Reply(
                401,
                {
                    "status": "error",
                    "message": "The OAuth token used to make this call expired.",
                    "category": "EXPIRED_AUTHENTICATION",
                    "correlationId": "c-1",
                },
            )
        if auth != f"Bearer {self.token}":
            return Reply(
                401,
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                    "correlationId": "c-2",
                },
            )
        if self.rate and not self.rate.allow():
            self.throttled += 1
            return Reply(
                429,
                {
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "TEN_SECONDLY_ROLLING",
                },
                headers={"Retry-After": "1"},
            )
        if path.endswith("/search") and self.search_rate and not self.search_rate.allow():
            self.throttled += 1
            self.throttled_searches += 1
            return Reply(
                429,
                {
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "SECONDLY",
                },
            )
        return None

    # -- endpoints ---------------------------------------------------------------------------------

    def search_contacts(self, body: dict[str, Any], **_: Any) -> Reply:
        filters = [f for g in body.get("filterGroups") or [] for f in g.get("filters") or []]
        limit = min(int(body.get("limit") or 10), 200)
        after = int(body.get("after") or 0)
        if after + limit > SEARCH_CAP:
            return Reply(
                400,
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "There was a problem with the request: paging beyond 10000 results",
                },
            )
        start = 0
        rows: list[dict[str, Any]]
        email = next((f["value"] for f in filters if f["propertyName"] == "email"), None)
        if email is not None:
            rows = [
                c for c in self.contacts.values() if (c["properties"].get("email") or "") == email.lower()
            ]
        else:
            since = next((int(f["value"]) for f in filters if f["propertyName"] == "lastmodifieddate"), None)
            if since is not None:
                start = bisect.bisect_left(self._order, (since, -1))
            rows = [
                self.contacts[str(oid)] for _ms, oid in self._order[start + after : start + after + limit]
            ]
            total = len(self._order) - start
            wanted = set(body.get("properties") or [])
            results = [
                {
                    **c,
                    "properties": {
                        k: v for k, v in c["properties"].items() if k in wanted or k == "hs_object_id"
                    },
                }
                for c in rows
            ]
            body_out: dict[str, Any] = {"total": total, "results": results}
            if after + limit < total:
                body_out["paging"] = {"next": {"after": str(after + limit), "link": "?after="}}
            return Reply(200, body_out)
        return Reply(200, {"total": len(rows), "results": rows[:limit]})

    def batch_read(self, table: dict[str, dict[str, Any]], body: dict[str, Any], **_: Any) -> Reply:
        ids = [str(i["id"]) for i in body.get("inputs") or []]
        found = [table[i] for i in ids if i in table]
        missing = [i for i in ids if i not in table]
        errors = (
            [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some objects",
                    "context": {"ids": missing},
                }
            ]
            if missing
            else []
        )
        return _batch(found, errors)

    def contact_deal_assocs(self, body: dict[str, Any], **_: Any) -> Reply:
        results, missing = [], []
        for item in body.get("inputs") or []:
            deals = self.contact_deals.get(str(item["id"]))
            if not deals:
                missing.append(str(item["id"]))
                continue
            results.append(
                {
                    "from": {"id": str(item["id"])},
                    "to": [
                        {
                            "toObjectId": int(d),
                            "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 4, "label": None}],
                        }
                        for d in deals
                    ],
                }
            )
        errors = (
            [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "No associations found",
                    "context": {"fromObjectId": missing},
                }
            ]
            if missing
            else []
        )
        return _batch(results, errors)

    def create_contact(self, body: dict[str, Any], **_: Any) -> Reply:
        props = body.get("properties") or {}
        email = (props.get("email") or "").lower()
        for oid, c in self.contacts.items():
            if email and c["properties"].get("email") == email:
                return Reply(
                    409,
                    {
                        "status": "error",
                        "category": "CONFLICT",
                        "message": f"Contact already exists. Existing ID: {oid}",
                    },
                )
        oid = self.add_contact(
            email, props.get("firstname", ""), props.get("lastname", ""), phone=props.get("phone")
        )
        return Reply(201, self.contacts[oid])

    def create(self, table: dict[str, dict[str, Any]], body: dict[str, Any], **_: Any) -> Reply:
        oid = str(next(self.ids))
        table[oid] = {
            **self._obj(oid, body.get("properties") or {}, self.tick()),
            "associations": body.get("associations") or [],
        }
        return Reply(201, {k: v for k, v in table[oid].items() if k != "associations"})

    def search_tickets(self, body: dict[str, Any], **_: Any) -> Reply:
        token = next(f["value"] for g in body["filterGroups"] for f in g["filters"])
        rows = [t for t in self.tickets.values() if token in (t["properties"].get("subject") or "")]
        return Reply(
            200,
            {
                "total": len(rows),
                "results": [{k: v for k, v in t.items() if k != "associations"} for t in rows],
            },
        )

    def update_ticket(self, body: dict[str, Any], oid: str, **_: Any) -> Reply:
        if oid not in self.tickets:
            return Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found"})
        self.tickets[oid]["properties"].update(body.get("properties") or {})
        return Reply(200, {k: v for k, v in self.tickets[oid].items() if k != "associations"})

    def gdpr_delete(self, body: dict[str, Any], **_: Any) -> Reply:
        """POST /crm/v3/objects/contacts/gdpr-delete {objectId, idProperty?}: 204, or 404 when unknown."""
        key, prop = str(body.get("objectId") or ""), body.get("idProperty")
        oid = next((o for o, c in self.contacts.items() if c["properties"].get(prop) == key), None) \
            if prop else (key if key in self.contacts else None)
        if oid is None:
            return Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found"})
        del self.contacts[oid]
        self.gdpr_deleted.append(oid)
        return Reply(204)
