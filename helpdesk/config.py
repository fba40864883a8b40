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
    "WORKER_POLL_SECONDS": 1.0,
    "WORKER_NICE": 10,  # the worker child's CPU priority below the socket process (0: the same)
    "JOB_LEASE_SECONDS": 30,  # a claimed job's lease; a heartbeat renews it while the handler runs
    "JOB_HEARTBEAT_SECONDS": 10,  # how often; a killed worker's job runs again after at most one lease
    "JOB_MAX_ATTEMPTS": 8,
    # Runtime and operations (helpdesk/cli.py, helpdesk/limits.py, helpdesk/health.py)
    "SQLITE_BUSY_SECONDS": 30.0,  # how long a transaction waits for SQLite's write lock
    # The least time between two write transactions of this process (`helpdesk worker`: 3 ms), so
    # the web process's chat writes get in between a job's run of short writes.
    "SQLITE_WRITE_GAP_SECONDS": 0.0,
    "DRAIN_SECONDS": 20.0,  # SIGTERM: in-flight requests and the current job get this long
    "MAX_REQUEST_BYTES": 1024 * 1024,  # body limit of every route without a larger one of its own
    "PAGE_SIZE": 25,
    "MAX_BODY_CHARS": 20_000,
    "MAX_UPLOAD_BYTES": 10 * 1024 * 1024,
    "CRM": None,  # "hubspot" or "salesforce"
    "HUBSPOT_ACCESS_TOKEN": None,
    "HUBSPOT_API_URL": "https://api.hubapi.com",
    "HUBSPOT_CLIENT_SECRET": None,  # signs webhooks (v3)
    "HUBSPOT_PORTAL_ID": None,  # for links to records in HubSpot
    "HUBSPOT_RATE": "190/10",  # private app budget: requests per seconds
    "SALESFORCE_INSTANCE_URL": None,
    "SALESFORCE_ACCESS_TOKEN": None,
    "SALESFORCE_CLIENT_ID": None,  # client-credentials flow instead of a token
    "SALESFORCE_CLIENT_SECRET": None,
    "SALESFORCE_CA_BUNDLE": None,  # a private CA for a sandbox behind TLS interception
    "CRM_CREATE_CONTACTS": True,  # create a CRM contact when an unknown customer writes
    "CRM_PULL_INTERVAL": 300,  # seconds between incremental pulls; 0: only by hand and webhooks
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    "WTF_CSRF_TIME_LIMIT": None,  # tokens live as long as the login session
    "DEMO": False,
    "ACCESS_LOG": False,  # one INFO line per HTTP request (off: the terminal shows what matters)
    "PROXY_FIX_HOPS": 0,  # reverse proxies in front that set X-Forwarded-For/-Proto/-Host (0: none)
    # Email channel (helpdesk/tickets/email)
    "EMAIL_DOMAIN": None,  # Message-ID domain; None: the host of BASE_URL
    "EMAIL_FROM": None,  # From of replies for inboxes without an address
    "EMAIL_MAX_BYTES": 25 * 1024 * 1024,  # larger mails are kept but rejected
    "EMAIL_AUTO_REPLY_CAP": 3,  # automatic mails per address per window
    "EMAIL_AUTO_REPLY_WINDOW_SECONDS": 3600,
    "EMAIL_MAX_PARTS": 2_000,  # more MIME parts: quarantined before parsing
    "EMAIL_MAX_TEXT_CHARS": 1_000_000,  # longer text body: quarantined before folding
    "EMAIL_MAX_HTML_BYTES": 2 * 1024 * 1024,  # larger HTML body: quarantined before sanitising
    "EMAIL_INGEST_WAIT_SECONDS": 5.0,  # inbound webhooks wait this long for the worker's answer
    "SMTP_RETRY_HOURS": 48,  # a reply that cannot be delivered is retried this long, then failed
    "SMTP_RETRY_FIRST_SECONDS": 60,  # first wait after a temporary SMTP failure; doubles each time ...
    "SMTP_RETRY_MAX_SECONDS": 3600,  # ... up to this
    "MAILGUN_SIGNING_KEY": None,
    "IMAP_POLL_SECONDS": 60,
    "IMAP_CA_FILE": None,  # PEM file of a private CA (or self-signed server certificate) IMAP servers use
    "CHAT_EMAIL_FALLBACK_SECONDS": 120,  # an offline shopper gets the agent's chat answer by email
    # Shops (orders/): a platform is on when its URL/shop and token are set.
    "SHOPIFY_SHOP": None,  # e.g. "shop-example.myshopify.com"
    "SHOPIFY_ACCESS_TOKEN": None,
    "SHOPIFY_API_URL": None,  # None: https://{shop}/admin/api/2025-01
    "SHOPIFY_WEBHOOK_SECRET": None,
    "WOOCOMMERCE_URL": None,
    "WOOCOMMERCE_CONSUMER_KEY": None,
    "WOOCOMMERCE_CONSUMER_SECRET": None,
    "WOOCOMMERCE_WEBHOOK_SECRET": None,
    "BIGCOMMERCE_STORE_HASH": None,
    "BIGCOMMERCE_ACCESS_TOKEN": None,
    "BIGCOMMERCE_API_URL": None,  # None: https://api.bigcommerce.com
    "BIGCOMMERCE_WEBHOOK_SECRET": None,  # sent back by BigCommerce as the X-Webhook-Secret header
    "MAGENTO_URL": None,
    "MAGENTO_ACCESS_TOKEN": None,
    "MAGENTO_PULL_SECONDS": 300,
    # Payments (payments/): Stripe is on with its secret key, PayPal with its REST app's id and secret.
    "STRIPE_API_KEY": None,  # sk_live_... or a restricted key that reads charges, refunds, disputes
    "STRIPE_WEBHOOK_SECRET": None,  # whsec_...: signs POST /webhooks/stripe
    "STRIPE_WEBHOOK_TOLERANCE_SECONDS": 300,  # an older Stripe-Signature timestamp is refused
    "STRIPE_API_BASE": None,  # None: https://api.stripe.com (a test's fake)
    "PAYPAL_CLIENT_ID": None,
    "PAYPAL_CLIENT_SECRET": None,
    "PAYPAL_ENVIRONMENT": "sandbox",  # sandbox or live
    "PAYPAL_API_BASE": None,  # None: the environment's (https://api-m.paypal.com live)
    "PAYMENTS_DISPUTE_INBOX": None,  # inbox name for dispute conversations; None: the first email inbox
    "ORDER_LOOKUP_RATE": "10/minute",  # widget lookups by order number + email, per client
    "CHAT_MAX_ATTACHMENT_BYTES": 5 * 1024 * 1024,  # a widget upload
    "CHAT_FLOOD_BURST": 8,  # messages one visitor may send ...
    "CHAT_FLOOD_WINDOW_SECONDS": 10.0,  # ... within this many seconds
    # Limits per client address and per site (helpdesk/chat/throttle.py; `limits` strings).
    "CHAT_RATE_LIMITS": True,  # False lifts the address and site limits below (load tests from one address)
    "CHAT_CONNECT_RATE_ADDRESS": "120/minute",  # /widget connects
    "CHAT_CONNECT_RATE_SITE": "6000/minute",
    "CHAT_NEW_VISITOR_RATE_ADDRESS": "20/minute",  # connects without a visitor token (new visitors)
    "CHAT_NEW_VISITOR_RATE_SITE": "1200/minute",
    "CHAT_CONVERSATION_RATE_ADDRESS": "10/minute",  # conversations opened
    "CHAT_CONVERSATION_RATE_SITE": "600/minute",
    "CHAT_HISTORY_RATE_VISITOR": "30/minute",
    "CHAT_HISTORY_RATE_ADDRESS": "120/minute",
    "CHAT_TYPING_RATE_VISITOR": "20/10 seconds",
    "CHAT_TYPING_RATE_ADDRESS": "120/10 seconds",
    "CHAT_HISTORY_PAGE": 100,  # messages per widget `history` answer at most ...
    "CHAT_HISTORY_MAX_CHARS": 200_000,  # ... and message text per answer at most (then `has_more`)
    "CHAT_PRESENCE_TTL_SECONDS": 45.0,  # with Redis: a dead process's agents count as gone after this
    "CHAT_REDIS_PREFIX": "helpdesk:chat:",  # keys of presence and rate limits in Redis
    "REPORTS_TIMEZONE": "UTC",  # days of the reports start at local midnight here
    "REPORTS_BUSINESS_HOURS": "Mon-Fri 09:00-17:00",  # for ?hours=business, in REPORTS_TIMEZONE
    # Customer data (issue 12)
    "WEBHOOK_RATE": "600/minute",  # inbound webhooks and mail posts per client address
    "CRM_ERASE": False,  # a GDPR erase also asks the CRM to delete the contact (a job)
    "IMAP_ALLOW_LOOPBACK": False,  # IMAP hosts on 127.0.0.0/8 / ::1 (a local Dovecot)
    "EMAIL_ACK_CAP_PER_INBOX": 100,  # acknowledgements one inbox sends per hour, to anyone
    "WIDGET_LINK_DAYS": 7,  # a shopper's attachment link works this long; history re-issues it
    # Outgoing webhooks (issue 13)
    "WEBHOOK_ALLOW_PRIVATE": False,  # targets on loopback/private/link-local addresses (tests, a LAN ERP)
    "WEBHOOK_MAX_ATTEMPTS": 8,  # tries of one delivery before it is marked dead
    # Marketing consent -> a Mailchimp audience (helpdesk/marketing); on when key and list are set.
    "MAILCHIMP_API_KEY": None,  # "...-us21": the suffix is the data centre the client talks to
    "MAILCHIMP_LIST_ID": None,  # the audience ("list") id
    "MAILCHIMP_API_URL": None,  # None: https://<dc>.api.mailchimp.com/3.0 (tests point it at a fake)
    "MAILCHIMP_ERASE": "delete-permanent",  # what a GDPR erase does to the member: or "archive"
}

# Settings whose value is a number or flag when it arrives as an environment string.
_BOOL = {"RUN_MIGRATIONS", "DEMO", "SESSION_COOKIE_SECURE", "CRM_CREATE_CONTACTS",
         "REMEMBER_COOKIE_SECURE", "CHAT_RATE_LIMITS", "CRM_ERASE", "IMAP_ALLOW_LOOPBACK",
         "WEBHOOK_ALLOW_PRIVATE", "ACCESS_LOG"}
_INT = {"PROXY_FIX_HOPS", "WORKER_NICE", "JOB_MAX_ATTEMPTS", "PAGE_SIZE", "MAX_BODY_CHARS", "MAX_UPLOAD_BYTES",
        "EMAIL_MAX_BYTES", "EMAIL_AUTO_REPLY_CAP", "EMAIL_AUTO_REPLY_WINDOW_SECONDS", "IMAP_POLL_SECONDS",
        "CRM_PULL_INTERVAL", "MAGENTO_PULL_SECONDS", "CHAT_MAX_ATTACHMENT_BYTES", "CHAT_FLOOD_BURST",
        "EMAIL_MAX_PARTS", "EMAIL_MAX_TEXT_CHARS", "EMAIL_MAX_HTML_BYTES", "MAX_REQUEST_BYTES",
        "CHAT_HISTORY_PAGE", "CHAT_HISTORY_MAX_CHARS", "EMAIL_ACK_CAP_PER_INBOX", "WIDGET_LINK_DAYS",
        "WEBHOOK_MAX_ATTEMPTS", "STRIPE_WEBHOOK_TOLERANCE_SECONDS"}
_FLOAT = {"WORKER_POLL_SECONDS", "JOB_LEASE_SECONDS", "JOB_HEARTBEAT_SECONDS", "CHAT_EMAIL_FALLBACK_SECONDS",
          "CHAT_FLOOD_WINDOW_SECONDS", "EMAIL_INGEST_WAIT_SECONDS", "SMTP_RETRY_HOURS",
          "SMTP_RETRY_FIRST_SECONDS", "SMTP_RETRY_MAX_SECONDS", "SQLITE_BUSY_SECONDS", "DRAIN_SECONDS",
          "CHAT_PRESENCE_TTL_SECONDS", "SQLITE_WRITE_GAP_SECONDS"}
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
    _cookie_flags(settings)
    if not settings.get("RATELIMIT_STORAGE_URI"):
        settings["RATELIMIT_STORAGE_URI"] = settings.get("REDIS_URL") or "memory://"
    return settings


def _cookie_flags(settings: dict[str, Any]) -> None:
    """Login cookies: `Secure` when the site is served over HTTPS (from BASE_URL unless set),
    never readable by scripts, and not sent on cross-site sub-requests."""
    https = str(settings.get("BASE_URL") or "").lower().startswith("https://")
    settings.setdefault("SESSION_COOKIE_SECURE", https)
    settings.setdefault("REMEMBER_COOKIE_SECURE", settings["SESSION_COOKIE_SECURE"])
    settings.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    settings.setdefault("REMEMBER_COOKIE_HTTPONLY", True)


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
