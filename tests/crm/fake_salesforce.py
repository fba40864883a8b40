"""A fake Salesforce over HTTPS: REST v59 query/queryMore, sobjects create/update, OAuth client credentials.

SOQL is understood only as far as the helpdesk writes it (FROM, the WHERE shapes below, LIMIT)."""

from __future__ import annotations

import itertools
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.crm.fakeserver import FakeServer, Reply

V = "/services/data/v59.0"


def sf_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.000+0000").replace(tzinfo=UTC)


def _parse_soql_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeSalesforce(FakeServer):
    def __init__(
        self,
        tls: tuple[Path, Path],
        token: str = "sf-token",
        batch_size: int = 2000,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        super().__init__(tls=tls)
        self.tokens = {token}
        self.client_id, self.client_secret = client_id, client_secret
        self.batch_size = batch_size
        self.ids = itertools.count(1)
        self.now = datetime.now(UTC) - timedelta(seconds=1)
        self.objects: dict[str, dict[str, dict[str, Any]]] = {
            k: {} for k in ("Contact", "Account", "Opportunity", "Case", "Task", "CaseComment", "User")
        }
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        self.deleted: list[tuple[str, str]] = []
        self.route("POST", r"/services/oauth2/token", self.oauth_token)
        self.route("GET", rf"{V}/query/?", self.query)
        self.route("GET", rf"{V}/query/(?P<locator>[\w]+)-(?P<offset>\d+)", self.query_more)
        self.route("POST", rf"{V}/sobjects/(?P<sobject>\w+)/?", self.create)
        self.route("PATCH", rf"{V}/sobjects/(?P<sobject>\w+)/(?P<oid>\w+)", self.update)
        self.route("DELETE", rf"{V}/sobjects/(?P<sobject>\w+)/(?P<oid>\w+)", self.delete)
        self.owner = self._new("User", {"Name": "Sam Seller"})

    # -- data --------------------------------------------------------------------------------------

    def tick(self) -> datetime:
        """SystemModstamp: real time, whole seconds as Salesforce shows them, never going back."""
        self.now = max(self.now + timedelta(seconds=1), datetime.now(UTC).replace(microsecond=0))
        return self.now

    def _new(self, sobject: str, fields: dict[str, Any]) -> str:
        prefix = {
            "Contact": "003",
            "Account": "001",
            "Opportunity": "006",
            "Case": "500",
            "Task": "00T",
            "CaseComment": "00a",
            "User": "005",
        }[sobject]
        oid = f"{prefix}{next(self.ids):012d}AAA"
        self.objects[sobject][oid] = {"Id": oid, **fields, "SystemModstamp": sf_time(self.tick())}
        return oid

    def add_account(self, name: str, kind: str = "Customer - Direct") -> str:
        return self._new("Account", {"Name": name, "Type": kind})

    def add_contact(
        self,
        email: str | None,
        first: str = "",
        last: str = "Doe",
        account: str | None = None,
        phone: str | None = None,
    ) -> str:
        return self._new(
            "Contact",
            {
                "Email": email,
                "FirstName": first,
                "LastName": last,
                "Phone": phone,
                "AccountId": account,
                "OwnerId": self.owner,
            },
        )

    def add_opportunity(self, account: str, name: str, amount: float, stage: str) -> str:
        return self._new(
            "Opportunity",
            {
                "Name": name,
                "Amount": amount,
                "StageName": stage,
                "CloseDate": "2026-12-31",
                "AccountId": account,
            },
        )

    def touch(self, sobject: str, oid: str, **fields: Any) -> None:
        self.objects[sobject][oid].update(fields, SystemModstamp=sf_time(self.tick()))

    # -- wire ----------------------------------------------------------------------------------------

    def precheck(self, method: str, path: str, headers: dict[str, str]) -> Reply | None:
        if path == "/services/oauth2/token":
            return None
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return Reply(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        return None

    def expire_sessions(self) -> None:
        self.tokens.clear()

    def oauth_token(self, body: Any, **_: Any) -> Reply:
        form = (
            dict(p.split("=", 1) for p in (body or b"").decode().split("&") if "=" in p)
            if isinstance(body, bytes)
            else {}
        )
        if form.get("grant_type") != "client_credentials" or (
            form.get("client_id"),
            form.get("client_secret"),
        ) != (self.client_id, self.client_secret):
            return Reply(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        token = secrets.token_hex(8)
        self.tokens.add(token)
        return Reply(
            200,
            {
                "access_token": token,
                "instance_url": self.url,
                "token_type": "Bearer",
                "issued_at": "1",
                "signature": "x",
                "id": f"{self.url}/id/00D/005",
            },
        )

    def _record(self, sobject: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": sobject, "url": f"{V}/sobjects/{sobject}/{row['Id']}"}}
        for name in fields:
            if "." in name:
                rel, sub = name.split(".", 1)
                ref = row.get(f"{rel}Id")
                table = {"Account": "Account", "Owner": "User"}[rel]
                target = self.objects[table].get(ref) if ref else None
                if target is None:
                    out[rel] = None
                else:
                    out.setdefault(rel, {"attributes": {"type": table, "url": f"{V}/sobjects/{table}/{ref}"}})
                    out[rel][sub] = target.get(sub)
            else:
                out[name] = row.get(name)
        return out

    def query(self, query: dict[str, list[str]], **_: Any) -> Reply:
        soql = query["q"][0]
        match = re.match(r"SELECT (?P<fields>.+?) FROM (?P<obj>\w+)(?P<rest>.*)$", soql, re.S)
        if not match:
            return Reply(400, [{"message": "malformed query", "errorCode": "MALFORMED_QUERY"}])
        fields = [f.strip() for f in match["fields"].split(",")]
        sobject, rest = match["obj"], match["rest"]
        rows = list(self.objects[sobject].values())
        or_accounts: set[str] | None = None
        if m := re.search(r"OR AccountId IN \(([^)]*)\)", rest):
            or_accounts = {v.strip().strip("'") for v in m[1].split(",")}
            rest = rest.replace(m[0], "")
        if m := re.search(r"SystemModstamp >= (\S+) OR Account\.SystemModstamp >= (\S+)", rest):
            since = _parse_soql_time(m[1])

            def changed(r: dict[str, Any]) -> bool:
                if or_accounts and r.get("AccountId") in or_accounts:
                    return True
                account = self.objects["Account"].get(r.get("AccountId") or "")
                stamps = [r["SystemModstamp"]] + ([account["SystemModstamp"]] if account else [])
                return any(_stamp(s) >= since for s in stamps)

            rows = [r for r in rows if changed(r)]
        elif m := re.search(r"WHERE SystemModstamp >= (\S+)", rest):
            rows = [r for r in rows if _stamp(r["SystemModstamp"]) >= _parse_soql_time(m[1])]
        if m := re.search(r"Email = '([^']*)'", rest):
            rows = [r for r in rows if (r.get("Email") or "") == m[1]]
        if m := re.search(r"(\w+) IN \(([^)]*)\)", rest):
            wanted = {v.strip().strip("'") for v in m[2].split(",")}
            rows = [r for r in rows if r.get(m[1]) in wanted]
        if m := re.search(r"Subject LIKE '%(.*?)%'", rest):
            rows = [r for r in rows if m[1] in (r.get("Subject") or "")]
        if "ORDER BY SystemModstamp" in rest:
            rows.sort(key=lambda r: (r["SystemModstamp"], r["Id"]))
        if m := re.search(r"LIMIT (\d+)", rest):
            rows = rows[: int(m[1])]
        records = [self._record(sobject, r, fields) for r in rows]
        locator = f"01g{secrets.token_hex(6)}"
        self.cursors[locator] = records
        return self._page(locator, 0)

    def _page(self, locator: str, offset: int) -> Reply:
        records = self.cursors[locator]
        chunk = records[offset : offset + self.batch_size]
        done = offset + self.batch_size >= len(records)
        body: dict[str, Any] = {"totalSize": len(records), "done": done, "records": chunk}
        if not done:
            body["nextRecordsUrl"] = f"{V}/query/{locator}-{offset + self.batch_size}"
        return Reply(200, body)

    def query_more(self, locator: str, offset: str, **_: Any) -> Reply:
        if locator not in self.cursors:
            return Reply(400, [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}])
        return self._page(locator, int(offset))

    def create(self, sobject: str, body: dict[str, Any], **_: Any) -> Reply:
        if sobject == "Case" and not body.get("ContactId"):
            return Reply(
                400,
                [
                    {
                        "message": "Required fields are missing: [ContactId]",
                        "errorCode": "REQUIRED_FIELD_MISSING",
                        "fields": ["ContactId"],
                    }
                ],
            )
        oid = self._new(sobject, dict(body))
        return Reply(201, {"id": oid, "success": True, "errors": []})

    def update(self, sobject: str, oid: str, body: dict[str, Any], **_: Any) -> Reply:
        if oid not in self.objects[sobject]:
            return Reply(
                404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
            )
        self.touch(sobject, oid, **body)
        return Reply(204)

    def delete(self, sobject: str, oid: str, **_: Any) -> Reply:
        """DELETE /sobjects/{type}/{id}: 204, or 404 NOT_FOUND (ENTITY_IS_DELETED once deleted)."""
        if oid not in self.objects[sobject]:
            return Reply(404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
        del self.objects[sobject][oid]
        self.deleted.append((sobject, oid))
        return Reply(204)
