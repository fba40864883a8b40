"""The pinned connection over TLS: the sender connects to the vetted address yet checks the
certificate against the URL's name (SNI and hostname), with a local HTTPS receiver."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from helpdesk.tickets.rules import webhook as transport
from tests.servers import self_signed_cert


def test_https_to_a_pinned_address_keeps_the_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed_cert(tmp_path)
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(dict(self.headers))
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(transport.certifi, "where", lambda: str(cert))  # trust exactly this certificate
        settings = {"WEBHOOK_ALLOW_PRIVATE": True}
        url = f"https://localhost:{server.server_port}/hook"
        answer = transport.signed_post(url, event="webhook.test", delivery_id="whd_1", body=b"{}", secret="x" * 16,
                                       settings=settings, timeout=5)
        assert answer.status == 202 and answer.excerpt == "ok", answer
        assert seen[0]["Host"] == f"localhost:{server.server_port}"
        # The same address under a name the certificate does not carry: refused, nothing sent.
        monkeypatch.setattr(transport.socket, "getaddrinfo",
                            lambda *a, **k: [(2, 1, 6, "", ("127.0.0.1", server.server_port))])
        wrong = transport.signed_post(f"https://hooks.example.com:{server.server_port}/hook", event="webhook.test",
                                      delivery_id="whd_2", body=b"{}", secret="x" * 16, settings=settings, timeout=5)
        assert wrong.status is None and "hooks.example.com" in (wrong.error or "") and len(seen) == 1
    finally:
        server.shutdown()
        server.server_close()
