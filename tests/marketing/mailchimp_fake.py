"""A local stand-in for Mailchimp's Marketing API 3.0: the real paths, JSON and problem-document
errors (`{"type", "title", "status", "detail", "instance"}` as application/problem+json), basic
auth with the API key, driven by the real `mailchimp-marketing` client pointed at it."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import free_port

MEMBER = re.compile(r"^/3\.0/lists/(?P<list>[^/]+)/members/(?P<hash>[0-9a-f]{32})"
                    r"(?P<action>/actions/delete-permanent)?$")
ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"


@dataclass
class Request:
    method: str
    path: str
    body: Any
    auth: str


@dataclass
class FakeMailchimp:
    url: str
    key: str
    list_id: str
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)
    compliance: set[str] = field(default_factory=set)  # addresses in compliance state (unsubscribed, bounced)
    fail_next: list[tuple[int, str]] = field(default_factory=list)  # (status, title) answered next, in turn
    requests: list[Request] = field(default_factory=list)
    on_request: Callable[[Request], None] | None = None  # called inside each request (probes, races)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.members.clear()
            self.forgotten.clear()
            self.compliance.clear()
            self.fail_next.clear()
            self.requests.clear()
            self.on_request = None


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": ERRORS_DOC, "title": title, "status": status, "detail": detail,
            "instance": "00000000-0000-0000-0000-000000000000"}


def start(key: str = "0123456789abcdef0123456789abcdef-us21", list_id: str = "a1b2c3d4e5") -> tuple[FakeMailchimp, Any]:
    port = free_port()
    fake = FakeMailchimp(f"http://127.0.0.1:{port}/3.0", key, list_id)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any] | None, problem_doc: bool = False) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/problem+json; charset=utf-8" if problem_doc
                                 else "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, title: str, detail: str) -> None:
            self._answer(status, problem(status, title, detail), problem_doc=True)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            auth = self.headers.get("Authorization", "")
            request = Request(self.command, self.path, body, auth)
            with fake.lock:
                fake.requests.append(request)
                forced = fake.fail_next.pop(0) if fake.fail_next else None
            if fake.on_request is not None:
                fake.on_request(request)
            expected = "Basic " + base64.b64encode(f"user:{fake.key}".encode()).decode()
            if auth != expected:
                self._error(401, "API Key Invalid", "Your API key may be invalid, or you've attempted to access "
                            "the wrong datacenter.")
                return
            if forced:
                self._error(forced[0], forced[1], "The fake was told to fail this request.")
                return
            match = MEMBER.match(self.path)
            if not match:
                self._error(404, "Resource Not Found", "The requested resource could not be found.")
                return
            if match["list"] != fake.list_id:
                self._error(404, "Resource Not Found", "The requested resource could not be found.")
                return
            member_hash = match["hash"]
            with fake.lock:
                if self.command == "PUT" and not match["action"]:
                    self._put(member_hash, body or {})
                elif self.command == "POST" and match["action"]:
                    if member_hash not in fake.members:
                        self._error(404, "Resource Not Found", "The requested resource could not be found.")
                        return
                    email = fake.members.pop(member_hash)["email_address"]
                    fake.forgotten.add(email.lower())
                    self._answer(204, None)
                elif self.command == "DELETE" and not match["action"]:
                    member = fake.members.get(member_hash)
                    if member is None:
                        self._error(404, "Resource Not Found", "The requested resource could not be found.")
                        return
                    member["status"] = "archived"
                    self._answer(204, None)
                elif self.command == "GET" and not match["action"]:
                    if member_hash in fake.members:
                        self._answer(200, fake.members[member_hash])
                    else:
                        self._error(404, "Resource Not Found", "The requested resource could not be found.")
                else:
                    self._error(405, "Method Not Allowed", "The requested method and resource are not compatible.")

        def _put(self, member_hash: str, body: dict[str, Any]) -> None:
            email = str(body.get("email_address") or "")
            if hashlib.md5(email.lower().encode()).hexdigest() != member_hash:
                self._error(400, "Invalid Resource", "The subscriber hash does not match the email address.")
                return
            if email.lower() in fake.forgotten:
                self._error(400, "Forgotten Email Not Subscribed", f"{email} was permanently deleted and cannot be "
                            "re-imported. The contact must re-subscribe to get back on the list.")
                return
            if email.lower() in fake.compliance and body.get("status") == "subscribed":
                self._error(400, "Member In Compliance State", f"{email} is already a list member in compliance "
                            "state due to unsubscribe, bounce, or compliance review.")
                return
            member = fake.members.get(member_hash)
            status = body.get("status") if member else body.get("status_if_new")
            if status not in ("subscribed", "unsubscribed", "cleaned", "pending", "transactional"):
                self._error(400, "Invalid Resource", "The resource submitted could not be validated.")
                return
            member = {"id": member_hash, "email_address": email, "unique_email_id": member_hash[:10],
                      "status": status or "subscribed", "list_id": fake.list_id}
            fake.members[member_hash] = member
            self._answer(200, member)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server
