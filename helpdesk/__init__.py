"""Helpdesk: create_app is the one place where the rooms are wired together."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from helpdesk.db import Database
    from helpdesk.runtime import Runtime

__version__ = "0.1.0"

# Nothing heavy is imported at module level: `python -m helpdesk` imports this package before
# __main__ runs, and gevent must patch the standard library before ssl and sockets are imported.


def create_app(config: dict[str, Any] | None = None) -> Flask:
    import logging

    from flask import Flask

    from helpdesk import config as settings
    from helpdesk.db import Database
    from helpdesk.events import Dispatcher
    from helpdesk.runtime import Runtime

    overrides = dict(config or {})
    instance = Path(overrides.pop("INSTANCE_PATH", None) or settings.instance_path())
    values = settings.load(instance, overrides)

    app = Flask(__name__, instance_path=str(instance), instance_relative_config=False)
    app.config.update(values)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from helpdesk import logs

    logs.install()
    logs.quiet(bool(app.config["ACCESS_LOG"]))

    dispatcher = Dispatcher()
    database = Database(app.config["DATABASE_URL"], dispatcher,
                        busy_seconds=float(app.config["SQLITE_BUSY_SECONDS"]),
                        write_gap=float(app.config["SQLITE_WRITE_GAP_SECONDS"]))
    app.extensions["helpdesk.db"] = database
    app.extensions["helpdesk.dispatcher"] = dispatcher
    # Everything of this app that outlives a request (handlers, capabilities, caches) lives here,
    # never in module globals: two apps in one process share nothing.
    runtime = Runtime(app.config, dispatcher, database)
    app.extensions["helpdesk.runtime"] = runtime
    if app.config["RUN_MIGRATIONS"]:
        from helpdesk.migrations import upgrade

        upgrade(database.engine)

    _init_extensions(app)
    _register_rooms(app, runtime)
    _init_operations(app)
    if hops := int(app.config["PROXY_FIX_HOPS"]):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Outermost, so that pages, sockets and rate limits all see the shopper's own address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app


def _init_extensions(app: Flask) -> None:
    from helpdesk import web
    from helpdesk.extensions import csrf, limiter, login_manager, socketio

    app.json = web.BoundedJSONProvider(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    limiter.init_app(app)
    # Flask-SocketIO copies the handlers it knows into each app's server when init_app makes it;
    # a handler defined later reaches only the server of that moment. Define them all first.
    import helpdesk.chat.sockets
    import helpdesk.selfservice.sockets  # noqa: F401
    # The one socketio object keeps the options of the last init_app: a queue or manager of an
    # earlier app (tests make many) must not leak into this one.
    socketio.server_options.pop("client_manager", None)
    socketio.server_options.pop("message_queue", None)
    manager: dict[str, Any] = {}
    if app.config.get("EMIT_FD") is not None and not app.config.get("REDIS_URL"):
        from helpdesk.emit_pipe import PipeManager

        manager["client_manager"] = PipeManager(int(app.config["EMIT_FD"]))
    socketio.init_app(app, async_mode=app.config["SOCKETIO_ASYNC_MODE"],
                      message_queue=app.config.get("REDIS_URL"), **manager,
                      # Any origin may open /widget (shops embed it; custom front ends exist);
                      # /console checks the Origin itself on connect.
                      cors_allowed_origins="*",
                      max_http_buffer_size=app.config["MAX_UPLOAD_BYTES"] + 65536)
    from helpdesk.accounts.models import Role

    app.jinja_env.globals["roles"] = Role
    from helpdesk.i18n import web as i18n_web

    i18n_web.init_app(app)
    app.teardown_appcontext(web.close_session)
    web.register_error_handlers(app)


def _register_rooms(app: Flask, runtime: Runtime) -> None:
    """Each room's `init_app(app, runtime)`, from the bottom room up: blueprints, listeners, job
    handlers, periodic jobs, panels and capabilities. Rooms react to each other only through the
    dispatcher (runtime.events) and what the runtime holds."""
    from helpdesk import (
        accounts,
        admin,
        api,
        chat,
        crm,
        customers360,
        marketing,
        orders,
        payments,
        reports,
        selfservice,
        tickets,
        webhooks,
    )
    from helpdesk.tickets import email

    for room in (accounts, admin, crm, marketing, tickets, email, orders, payments, customers360, webhooks, chat,
                 selfservice, reports, api):
        room.init_app(app, runtime)
    if app.config["DEMO"]:
        from helpdesk import demo

        app.register_blueprint(demo.bp)


def _init_operations(app: Flask) -> None:
    """/healthz, and body limits around everything else (Socket.IO included)."""
    from helpdesk import health, limits

    health.init_app(app)
    limits.init_app(app)

    def favicon() -> Any:
        # Browsers ask for /favicon.ico on every page that names no icon (the widget's host pages too).
        return app.send_static_file("favicon.svg")

    app.add_url_rule("/favicon.ico", "favicon", favicon)


def db_of(app: Flask) -> Database:
    return app.extensions["helpdesk.db"]


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["helpdesk.runtime"]
