"""Socket emits of the worker child reach the web process's sockets through a pipe.

Without Redis, `helpdesk run` is two processes on one machine: the web process holds every socket,
the worker child runs the jobs whose results browsers wait for (a reply's delivery state, a CSAT
request, a snoozed conversation waking). The child's Socket.IO server gets `PipeManager`, which
writes each emit (python-socketio's pub/sub message) as a JSON line to a pipe the supervisor
made; the web process reads the pipe in a greenlet and emits to its own sockets. With Redis the
message queue does this instead (and reaches every app process)."""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

import socketio as python_socketio

log = logging.getLogger(__name__)

ENV = "HELPDESK_EMIT_FD"
MAX_LINE = 16 * 1024 * 1024  # one emit; a longer line is a broken writer, not a message


class PipeManager(python_socketio.PubSubManager):
    """Write-only pub/sub manager of the worker child: every emit goes down the pipe."""

    name = "pipe"

    def __init__(self, fd: int) -> None:
        super().__init__(channel="helpdesk", write_only=True)
        self.fd = fd
        self._lock = threading.Lock()

    def _publish(self, data: Any) -> None:
        line = json.dumps(data, default=str, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            view = memoryview(line)
            while view:
                view = view[os.write(self.fd, view):]


def _read_chunks(fd: int) -> Any:
    """Yield what the pipe holds as it arrives; cooperative under gevent, a plain read otherwise."""
    try:
        from gevent import monkey
        from gevent import os as gevent_os

        cooperative = monkey.is_module_patched("socket")
    except ImportError:  # pragma: no cover - gevent is a dependency
        cooperative = False
    if cooperative:
        gevent_os.make_nonblocking(fd)
    while True:
        chunk = gevent_os.nb_read(fd, 65536) if cooperative else os.read(fd, 65536)
        if not chunk:
            return
        yield chunk


def relay(fd: int, server: Any) -> None:
    """Emit in this process what the worker child wrote to `fd`, until the child closes it."""
    buffer = b""
    try:
        for chunk in _read_chunks(fd):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            if len(buffer) > MAX_LINE:
                log.error("dropping an over-long line from the worker's emit pipe")
                buffer = b""
            for line in lines:
                try:
                    _apply(server, json.loads(line))
                except Exception:
                    log.exception("a socket emit from the worker failed")
    finally:
        os.close(fd)


def _apply(server: Any, message: dict[str, Any]) -> None:
    method = message.get("method")
    namespace = message.get("namespace") or "/"
    if method == "emit" and not message.get("binary"):
        data = message.get("data") or [None]
        payload = data[0] if len(data) == 1 else tuple(data)
        server.emit(message["event"], payload, namespace=namespace, to=message.get("room"),
                    skip_sid=message.get("skip_sid"))
    elif method == "disconnect":
        server.disconnect(message["sid"], namespace=namespace)
    elif method == "close_room":
        server.close_room(message["room"], namespace=namespace)
    elif method in ("enter_room", "leave_room"):
        getattr(server, method)(message["sid"], message["room"], namespace=namespace)


def start_relay(fd: int, server: Any) -> None:
    threading.Thread(target=relay, args=(fd, server), name="worker-emits", daemon=True).start()
