"""Helpdesk: create_app is the one place where the rooms are wired together."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from helpdesk.db import Database

__version__ = "0.1.0"

# Nothing heavy is imported at module level: `python -m helpdesk` imports this package before
# __main__ runs, and gevent must patch the standard library before ssl and sockets are imported.


def create_app(config: dict[str, Any] | None = None) -> Flask:
    import logging

    from flask import Flask

    from helpdesk import config as settings
    from helpdesk.db import Database
    from helpdesk.events import Dispatcher

    overrides = dict(config or {})
    instance = Path(overrides.pop("INSTANCE_PATH", None) or settings.instance_path())
    values = settings.load(instance, overrides)

    app = Flask(__name__, instance_path=str(instance), instance_relative_config=False)
    app.config.update(values)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from helpdesk import logs

    logs.install()

    dispatcher = Dispatcher()
    database = Database(app.config["DATABASE_URL"], dispatcher)
    app.extensions["helpdesk.db"] = database
    app.extensions["helpdesk.dispatcher"] = dispatcher
    if app.config["RUN_MIGRATIONS"]:
        from helpdesk.migrations import upgrade

        upgrade(database.engine)

    _init_extensions(app)
    _register_rooms(app)
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
    import helpdesk.chat.sockets  # noqa: F401
    socketio.init_app(app, async_mode=app.config["SOCKETIO_ASYNC_MODE"],
                      message_queue=app.config.get("REDIS_URL"),
                      # Any origin may open /widget (shops embed it; custom front ends exist);
                      # /console checks the Origin itself on connect.
                      cors_allowed_origins="*",
                      max_http_buffer_size=app.config["MAX_UPLOAD_BYTES"] + 65536)
    from helpdesk.accounts.models import Role

    app.jinja_env.globals["roles"] = Role
    app.teardown_appcontext(web.close_session)
    web.register_error_handlers(app)


def _register_rooms(app: Flask) -> None:
    """Each room's blueprints, listeners and settings, from the bottom room up."""
    from helpdesk import admin, chat
    from helpdesk.accounts import views as accounts_views
    from helpdesk.api import customers as _api_customers  # noqa: F401 - routes join the API blueprint
    from helpdesk.api import orders as _api_orders  # noqa: F401
    from helpdesk.api import reports as _api_reports  # noqa: F401
    from helpdesk.api import views as api_views
    from helpdesk.chat import csat_relay
    from helpdesk.crm import admin as crm_admin
    from helpdesk.crm import sync as crm_sync
    from helpdesk.crm import webhooks as crm_webhooks
    from helpdesk.customers360 import listeners as customer_listeners
    from helpdesk.customers360 import views as customers_views
    from helpdesk.extensions import csrf
    from helpdesk.orders import views as orders_views
    from helpdesk.reports import views as reports_views
    from helpdesk.tickets import admin as tickets_admin
    from helpdesk.tickets import (
        csat,
        csat_views,
        snooze,  # noqa: F401 - registers its periodic job
    )
    from helpdesk.tickets import email as email_channel
    from helpdesk.tickets import views as tickets_views

    dispatcher = app.extensions["helpdesk.dispatcher"]
    # accounts and the console
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(tickets_views.bp)
    app.register_blueprint(tickets_admin.bp)
    app.register_blueprint(admin.bp)
    # crm and the customer 360
    crm_sync.configure(app.config)
    app.register_blueprint(crm_admin.bp)
    app.register_blueprint(crm_webhooks.bp)
    csrf.exempt(crm_webhooks.bp)  # signed by HubSpot, no cookies
    app.register_blueprint(customers_views.bp)
    customer_listeners.register(dispatcher, app.config["BASE_URL"])
    app.jinja_env.globals["customer_sidebar"] = customers_views.sidebar_data
    # orders, email, CSAT, chat
    orders_views.init_app(app)
    email_channel.init_app(app)
    app.register_blueprint(csat_views.bp)
    csat.register(app)
    chat.init_app(app)
    csat_relay.wire(app)  # the widget asks for and records chat CSAT
    # reports and the REST API on top
    app.register_blueprint(reports_views.bp)
    app.register_blueprint(api_views.bp)
    csrf.exempt(api_views.bp)  # token-authenticated, no cookies
    if app.config["DEMO"]:
        from helpdesk import demo

        app.register_blueprint(demo.bp)


def db_of(app: Flask) -> Database:
    return app.extensions["helpdesk.db"]
