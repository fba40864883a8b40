"""GET /healthz: what a load balancer or a monitor asks before sending traffic here.

No login, no CSRF, no rate limit; it reads without taking SQLite's write lock, so it answers while
the worker writes, and says 503 only when this node cannot serve (the database does not answer,
or a configured Redis, which carries the sockets of every node, is unreachable).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import func, or_, select

from helpdesk.db import READ_ONLY, utcnow

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
REDIS_TIMEOUT_SECONDS = 1.0


def job_counts(conn: Any) -> dict[str, Any]:
    from helpdesk.jobs import Job, JobState

    now = utcnow()
    due = or_((Job.state == JobState.queued) & (Job.run_at <= now),
              (Job.state == JobState.running) & (Job.locked_until < now))
    count, oldest = conn.execute(select(func.count(), func.min(Job.run_at)).where(due)).one()
    dead = conn.scalar(select(func.count()).select_from(Job).where(Job.state == JobState.dead))
    if oldest is not None and oldest.tzinfo is None:  # an aggregate bypasses the UTC column type
        from datetime import UTC
        oldest = oldest.replace(tzinfo=UTC)
    waited = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return {"due": int(count), "dead": int(dead or 0), "oldest_due_seconds": round(waited, 1)}


def _database() -> tuple[str, dict[str, Any] | None]:
    database = current_app.extensions["helpdesk.db"]
    try:
        with database.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            return "ok", job_counts(conn)
    except Exception as exc:  # any failure to answer is the news here, not a 500
        log.warning("health check: the database does not answer: %s", exc)
        return "error", None


def _redis() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return "absent"
    import redis

    client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                  socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
    try:
        client.ping()
        return "ok"
    except redis.RedisError as exc:
        log.warning("health check: Redis does not answer: %s", exc)
        return "error"
    finally:
        client.close()


@bp.get("/healthz")
def healthz() -> Any:
    database, jobs = _database()
    redis_state = _redis()
    ok = database == "ok" and redis_state != "error"
    body = {"ok": ok, "database": database, "redis": redis_state, "jobs": jobs}
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    from helpdesk.extensions import csrf, limiter

    app.register_blueprint(bp)
    csrf.exempt(bp)
    limiter.exempt(bp)
