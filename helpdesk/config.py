"""Settings: defaults < instance/helpdesk.toml < HELPDESK_* environment < test overrides."""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: SQLite in WAL mode under the instance folder
    "REDIS_URL": None,
    "SECRET_KEY": None,  # None: generated once into the instance folder
    "BASE_URL": "http://127.0.0.1:5000",
    "SMTP_URL": None,
    "SOCKETIO_ASYNC_MODE": "threading",  # the `run` command switches to gevent
    "RATELIMIT_STORAGE_URI": None,  # None: Redis when REDIS_URL is set, else memory
    "RUN_MIGRATIONS": True,
    "WORKER_IN_PROCESS": False,
    "WORKER_POLL_SECONDS": 1.0,
    "JOB_LEASE_SECONDS": 300,
    "JOB_MAX_ATTEMPTS": 8,
    "PAGE_SIZE": 25,
    "MAX_BODY_CHARS": 20_000,
    "MAX_UPLOAD_BYTES": 10 * 1024 * 1024,
    "CRM": None,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    "WTF_CSRF_TIME_LIMIT": None,  # tokens live as long as the login session
    "DEMO": False,
    "REPORTS_TIMEZONE": "UTC",  # days of the reports start at local midnight here
    "REPORTS_BUSINESS_HOURS": "Mon-Fri 09:00-17:00",  # for ?hours=business, in REPORTS_TIMEZONE
}

# Settings whose value is a number or flag when it arrives as an environment string.
_BOOL = {"RUN_MIGRATIONS", "WORKER_IN_PROCESS", "DEMO", "SESSION_COOKIE_SECURE"}
_INT = {"JOB_LEASE_SECONDS", "JOB_MAX_ATTEMPTS", "PAGE_SIZE", "MAX_BODY_CHARS", "MAX_UPLOAD_BYTES"}
_FLOAT = {"WORKER_POLL_SECONDS"}
ENV_PREFIX = "HELPDESK_"


def instance_path() -> Path:
    return Path(os.environ.get("HELPDESK_INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def _coerce(key: str, value: str) -> Any:
    if key in _BOOL:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if key in _INT:
        return int(value)
    if key in _FLOAT:
        return float(value)
    return value


def load(instance: Path, overrides: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Merge the layers; keys are upper case without the HELPDESK_ prefix."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    toml_file = instance / "helpdesk.toml"
    if toml_file.exists():
        with toml_file.open("rb") as fh:
            settings.update({k.upper(): v for k, v in tomllib.load(fh).items()})
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != "HELPDESK_INSTANCE_PATH":
            key = name[len(ENV_PREFIX):]
            settings[key] = _coerce(key, value)
    settings.update(overrides or {})
    settings["INSTANCE_PATH"] = str(instance)
    if not settings.get("DATABASE_URL"):
        settings["DATABASE_URL"] = f"sqlite:///{instance / 'helpdesk.sqlite'}"
    if not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = instance_secret(instance)
    if not settings.get("RATELIMIT_STORAGE_URI"):
        settings["RATELIMIT_STORAGE_URI"] = settings.get("REDIS_URL") or "memory://"
    return settings


def instance_secret(instance: Path) -> str:
    """A secret generated once into the instance folder and reused on every start."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret
