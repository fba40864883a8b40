"""What every HTTP adapter shares: the request's database session, the actor, error mapping."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from helpdesk.accounts.models import Role
from helpdesk.actors import Actor, agent_actor
from helpdesk.db import Database, DatabaseBusy
from helpdesk.errors import DomainError, Forbidden, RateLimited, error_body

F = TypeVar("F", bound=Callable[..., Any])
JSON_PREFIXES = ("/api/", "/inbound/", "/webhooks/", "/csat/")


def database() -> Database:
    return current_app.extensions["helpdesk.db"]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITES_ON_GET = "helpdesk_writes_on_get"


def writes_on_get(view: F) -> F:
    """Mark a view whose GET writes (a one-click link): its request gets a write transaction."""
    setattr(view, WRITES_ON_GET, True)
    return view


def read_only_request() -> bool:
    if request.method not in SAFE_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return not getattr(view, WRITES_ON_GET, False)


def db_session() -> Session:
    """The request's session, opened on first use and closed when the request ends.

    A GET reads in a read-only transaction (on SQLite: no write lock, so a page view neither waits
    for nor holds up chat's writes); what a GET must write goes in a unit of work of its own.
    """
    if "db_session" not in g:
        db = database()
        g.db_session = db.reading() if read_only_request() else db.sessions()
    return g.db_session


def commit() -> None:
    db_session().commit()


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()  # anything not committed by the view is dropped
        session.close()


def current_actor() -> Actor:
    return agent_actor(current_user)


def require_role(role: Role) -> Callable[[F], F]:
    """Refuse with 403 an agent below `role` (login is checked by login_required first)."""
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if not current_user.has_role(role):
                raise Forbidden(f"this page needs the {role.value} role")
            return view(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def local_url(target: str | None, default: str) -> str:
    """`target` if it is a page of this site (a path, or a full URL of this host), else `default`:
    an open redirect would turn our pages into a phishing aid."""
    parts = urlsplit(target or "")
    if parts.scheme in ("", "http", "https") and parts.netloc in ("", request.host) \
            and parts.path.startswith("/") and not parts.path.startswith("//") and "\\" not in parts.path:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return default


def wants_json() -> bool:
    if request.path.startswith(JSON_PREFIXES) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, code: str, message: str) -> Any:
    if wants_json():
        return jsonify(error_body(code, message)), status
    return render_template("error.html", status=status, code=code, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Any:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return error_response(400, "csrf_failed", exc.description or "CSRF token missing or invalid")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        code = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            body, status = response
            resp = app.make_response((body, status))
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
            return resp
        return response

    @app.errorhandler(DatabaseBusy)
    def _busy(exc: DatabaseBusy) -> Any:
        # Retryable, and not our bug: say so, as a load balancer and a client understand it.
        app.logger.warning("database busy on %s %s: %s", request.method, request.path, exc)
        body, status = error_response(503, "database_busy", "the database is busy; try again in a moment")
        return body, status, {"Retry-After": "1"}

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong; it has been logged")


MAX_JSON_DEPTH = 64
_JSON_TOKENS = re.compile(r'\\.|["\[\]{}]')


def json_depth_ok(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Is the JSON nested at most `limit` deep? Checked before parsing: 20,000 nested brackets
    make the parser recurse until it fails with a RecursionError (a 500) after a long stall."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if text.count("[") + text.count("{") <= limit:
        return True
    depth, in_string = 0, False
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token[0] == "\\":
            continue  # an escape inside a string
        if token == '"':
            in_string = not in_string
        elif not in_string:
            depth += 1 if token in "[{" else -1
            if depth > limit:
                return False
    return True


class BoundedJSONProvider(DefaultJSONProvider):
    """app.json: request bodies nested deeper than MAX_JSON_DEPTH are malformed (400), not a crash."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if not json_depth_ok(s):
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return super().loads(s, **kwargs)


class BadJSON(DomainError):
    status = 400
    code = "malformed_json"

    def __init__(self) -> None:
        super().__init__("the body must be a JSON object")


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a clear 400."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadJSON()
    return data



# -- security headers ---------------------------------------------------------------------------

def csp_nonce() -> str:
    """This request's script nonce (templates: `<script nonce="{{ csp_nonce() }}">`)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def https_base() -> bool:
    return str(current_app.config.get("BASE_URL") or "").lower().startswith("https://")


def console_csp(nonce: str) -> str:
    # Scripts: our own files and nonced blocks only, so injected markup can run nothing; no page
    # of ours may be framed (clickjacking). Styles stay inline-able: style attributes are many
    # and cannot run code.
    return (f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob: https:; connect-src 'self'; font-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def security_headers(response: Response) -> Response:
    """Headers every response gets. A page that set its own CSP (the widget frame, downloads)
    keeps it, and framing rules with it."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if https_base():
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = console_csp(csp_nonce())
        headers.setdefault("X-Frame-Options", "DENY")
    return response


def limit_inbound() -> None:
    """before_request of every webhook and inbound-mail blueprint: at most WEBHOOK_RATE requests
    per client address (shared through Redis when it is set), counted before any signature check
    so a flood of forged requests costs us a counter, not an HMAC and a database row each."""
    from limits import parse

    from helpdesk.extensions import limiter

    item = parse(current_app.config.get("WEBHOOK_RATE") or "600/minute")
    if not limiter.limiter.hit(item, "inbound", request.remote_addr or "unknown"):
        raise RateLimited("too many webhook requests from this address; slow down")
