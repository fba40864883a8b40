"""A small threaded HTTP(S) server on 127.0.0.1 for SaaS fakes: routes, injected failures, rate limits."""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Route = tuple[str, re.Pattern[str], Callable[..., Any]]


class Reply:
    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.raw = raw


class RateWindow:
    """At most `limit` requests in any `window` seconds, as the SaaS counts them."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.hits: deque[float] = deque()
        self.lock = threading.Lock()

    def allow(self) -> bool:
        with self.lock:
            now = time.monotonic()
            while self.hits and now - self.hits[0] >= self.window:
                self.hits.popleft()
            if len(self.hits) >= self.limit:
                return False
            self.hits.append(now)
            return True


class FakeServer:
    """Subclasses add routes with `route(method, regex, fn)`; fn(request) -> Reply."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.routes: list[Route] = []
        self.failures: deque[tuple[str, Reply]] = deque()  # (path regex, reply) served once each
        self.log: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                reply = fake.dispatch(self.command, self.path, dict(self.headers), raw)
                payload = (
                    reply.raw
                    if reply.raw is not None
                    else (b"" if reply.body is None else json.dumps(reply.body).encode())
                )
                self.send_response(reply.status)
                if reply.raw is None and reply.body is not None:
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def route(self, method: str, pattern: str, fn: Callable[..., Any]) -> None:
        self.routes.append((method, re.compile(pattern + r"$"), fn))

    def fail_next(self, path_regex: str, reply: Reply, times: int = 1) -> None:
        for _ in range(times):
            self.failures.append((path_regex, reply))

    def count(self, method: str, path_regex: str) -> int:
        return sum(1 for m, p in self.log if m == method and re.search(path_regex, p))

    def precheck(self, method: str, path: str, headers: dict[str, str]) -> Reply | None:
        return None

    def dispatch(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = urlsplit(target)
        path = parts.path
        with self.lock:
            self.log.append((method, path))
            for i, (regex, reply) in enumerate(self.failures):
                if re.search(regex, path):
                    del self.failures[i]
                    return reply
        if (early := self.precheck(method, path, headers)) is not None:
            return early
        for m, pattern, fn in self.routes:
            match = pattern.match(path)
            if m == method and match:
                body: Any = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = raw
                with self.lock:
                    return fn(body=body, query=parse_qs(parts.query), headers=headers, **match.groupdict())
        return Reply(404, {"message": f"no route {method} {path}"})


