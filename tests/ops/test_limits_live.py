"""A 1 GiB POST to a live `helpdesk run` is refused early and does not grow the server's memory."""

from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

from tests.conftest import LiveServer

GIB = 1024**3
CHUNK = b"a" * 65536


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def post_huge(url: str, path: str, headers: str, chunked: bool, timeout: float = 60) -> bytes:
    """Send up to 1 GiB as fast as the server takes it; stop as soon as it answers."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{headers}\r\n".encode())
    frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n" if chunked else CHUNK
    answer, sent, deadline = b"", 0, time.monotonic() + timeout
    sock.setblocking(False)
    try:
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if sent < GIB else [], [], 1.0)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if b"\r\n\r\n" in answer and b"}" in answer:
                    break
            elif writable:
                try:
                    sent += sock.send(frame)
                except BlockingIOError:
                    continue
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.close()
    assert sent < GIB // 4, f"the server read {sent} bytes before answering"
    return answer


def test_a_1_gib_post_is_refused_with_413_without_growing_memory(live_server: LiveServer) -> None:
    pid = live_server.proc.pid
    before = rss_kb(pid)
    chunked = post_huge(live_server.url, "/login", "Content-Type: application/x-www-form-urlencoded\r\n"
                        "Transfer-Encoding: chunked\r\nAccept: application/json\r\n", chunked=True)
    assert chunked.startswith(b"HTTP/1.1 413"), chunked[:300]
    assert b'"too_large"' in chunked
    # Routes that answer without reading the body (no such route; an unknown site key) close the
    # connection rather than read the rest of the stream.
    for path, status in (("/no/such/route", b"404"), ("/widget/attachments", b"401")):
        unread = post_huge(live_server.url, path, "Content-Type: multipart/form-data; boundary=xx\r\n"
                           "Transfer-Encoding: chunked\r\n", chunked=True)
        assert unread.startswith(b"HTTP/1.1 " + status) and b"Connection: close" in unread, unread[:300]
    declared = post_huge(live_server.url, "/inbound/email/raw",
                         f"Content-Type: message/rfc822\r\nContent-Length: {GIB}\r\n", chunked=False)
    assert declared.startswith(b"HTTP/1.1 413") and b'"too_large"' in declared
    api = post_huge(live_server.url, "/api/v1/conversations",
                    f"Content-Type: application/json\r\nContent-Length: {GIB}\r\n", chunked=False)
    assert api.startswith(b"HTTP/1.1 413")
    assert rss_kb(pid) - before < 50 * 1024
    assert live_server.proc.poll() is None
