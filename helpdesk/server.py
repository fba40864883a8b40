"""The gevent web server of `helpdesk run`, and its SIGTERM drain.

On SIGTERM (or Ctrl+C): stop accepting connections, stop the worker child (it finishes its job),
close every Socket.IO socket so clients reconnect to another node, let the HTTP requests in
flight finish, all within DRAIN_SECONDS, then return so the process exits with status 0.
"""

from __future__ import annotations

import gc
import logging
import signal
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

log = logging.getLogger("helpdesk.server")
GC_FULL_EVERY_SECONDS = 300


class InFlight:
    """WSGI middleware counting the HTTP requests being answered (not Socket.IO's long polls)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.count = 0
        self.draining = False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/socket.io"):
            return self.app(environ, start_response)
        if self.draining:
            # A request on a kept-alive connection is still answered, and told to go elsewhere next.
            def closing(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                return start_response(status, [*headers, ("Connection", "close")], *exc)
            respond = closing
        else:
            respond = start_response
        self.count += 1
        try:
            result = self.app(environ, respond)
        except BaseException:
            self.count -= 1
            raise
        return _Counted(result, self)


class _Counted:
    def __init__(self, result: Iterable[bytes], owner: InFlight) -> None:
        self.result = result
        self.owner = owner
        self.done = False

    def __iter__(self) -> Any:
        return iter(self.result)

    def close(self) -> None:
        try:
            if hasattr(self.result, "close"):
                self.result.close()
        finally:
            if not self.done:
                self.done = True
                self.owner.count -= 1


def compile_templates(app: Flask) -> None:
    """Compile every page template before the port opens: the first agent to open a conversation
    after a start compiled it in the request, ~100 ms in which no chat message moved (issue 10)."""
    for name in app.jinja_env.list_templates(filter_func=lambda n: n.endswith(".html")):
        app.jinja_env.get_template(name)


def freeze_startup_heap() -> None:
    """Move what start-up made (modules, the app, mappers, templates: most of the heap) out of the
    collector's sight. A full collection walked all of it every time: 90-140 ms in which the
    process did nothing else (bench/stall.py, issue 10); now it walks only what came since."""
    gc.collect()
    gc.freeze()


def serve(app: Flask, host: str, port: int, banner: list[str], *, supervisor: Any = None) -> None:
    import gevent
    import gevent.event
    from gevent import pywsgi
    from geventwebsocket.handler import WebSocketHandler

    # Full (generation-2) collections walking thousands of sockets made the p99 tail; run them
    # on a timer instead (see ARCHITECTURE.md, Runtime).
    gc.set_threshold(700, 10, 10**9)

    def collect_full() -> None:
        while True:
            gevent.sleep(GC_FULL_EVERY_SECONDS)
            gc.collect()

    compile_templates(app)
    inflight = InFlight(app.wsgi_app)
    app.wsgi_app = inflight  # type: ignore[method-assign]
    server = pywsgi.WSGIServer((host, port), app, handler_class=WebSocketHandler, log=None)
    server.start()
    freeze_startup_heap()
    gevent.spawn(collect_full)
    # The job worker (another process) asks whether a shopper is on the widget: tell the database.
    from helpdesk.chat import online

    gevent.spawn(online.keep_fresh, app.extensions["helpdesk.runtime"], gevent.sleep)
    if supervisor is not None:
        supervisor.start()
    for line in banner:
        print(line, flush=True)

    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    stop.wait()
    drain(app, server, inflight, supervisor, float(app.config["DRAIN_SECONDS"]))


def drain(app: Flask, server: Any, inflight: InFlight, supervisor: Any, seconds: float) -> None:
    import gevent

    from helpdesk.extensions import socketio

    deadline = time.monotonic() + seconds
    log.info("draining: no new connections; %d requests in flight; up to %.0f s", inflight.count, seconds)
    inflight.draining = True
    server.close()  # new connections are refused at once: the load balancer moves on
    stopping = gevent.spawn(supervisor.stop, seconds) if supervisor is not None else None
    try:
        socketio.server.eio.disconnect()  # every socket: clients reconnect (elsewhere)
    except Exception:  # a half-open socket must not stop the drain
        log.exception("closing the sockets")
    while inflight.count > 0 and time.monotonic() < deadline:
        gevent.sleep(0.05)
    if inflight.count:
        log.warning("drain: %d requests still running after %.0f s; cutting them", inflight.count, seconds)
    if stopping is not None:
        stopping.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
    server.stop(timeout=0.5)  # idle kept-alive connections and what is left
    try:
        socketio.server.shutdown()
    except Exception:
        log.exception("stopping Socket.IO")
    log.info("drained; exiting")
