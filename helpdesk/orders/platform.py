"""What a shop platform plugs in: one descriptor per platform, read by the one webhook route, the
admin page, the CLI, the OpenAPI enums and the sync. A new platform is one module plus one line
in `orders.CONNECTORS`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helpdesk.orders.connector import Connector, CustomerData, OrderData, RefundData

Credentials = Mapping[str, Any]
# The credentials of the shop a webhook names (None: no such shop is connected).
CredentialsOf = Callable[[str], "Credentials | None"]


@dataclass(frozen=True)
class Field:
    """One credential of a shop: `HELPDESK_{PLATFORM}_{NAME}` in settings, `name` in the shops table."""

    name: str
    label: str
    secret: bool = False
    required: bool = False

    def setting(self, platform: str) -> str:
        return f"{platform.upper()}_{self.name.upper()}"


class WebhookRefused(Exception):
    """A webhook we must not apply: answered with `status` and the error shape, nothing changed."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Inbound:
    """A verified webhook, parsed: what to apply. `result` set: answer it at once, store nothing."""

    delivery_id: str = ""
    topic: str = ""
    shop: str = ""
    result: str | None = None
    orders: list[OrderData] = field(default_factory=list)
    refunds: list[tuple[str, RefundData]] = field(default_factory=list)
    customers: list[CustomerData] = field(default_factory=list)
    fetch: list[str] = field(default_factory=list)  # order ids the body only names
    payload: Any = None


Webhook = Callable[[Mapping[str, str], bytes, CredentialsOf, Credentials | None], Inbound]


@dataclass(frozen=True)
class Platform:
    key: str
    label: str
    connector: type[Connector]
    fields: tuple[Field, ...]
    # (headers, raw body, credentials of a named shop, the default shop's credentials) -> Inbound
    webhook: Webhook | None = None
    pulls: bool = False  # no webhooks: the worker pulls changed orders on a schedule
    extra_settings: tuple[str, ...] = ()

    @property
    def actions(self) -> tuple[str, ...]:
        return self.connector.ACTIONS

    def settings_names(self) -> list[str]:
        return [f.setting(self.key) for f in self.fields] + list(self.extra_settings)

    def env_credentials(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        return {f.name: settings.get(f.setting(self.key)) for f in self.fields
                if settings.get(f.setting(self.key)) not in (None, "")}

    def configured(self, credentials: Credentials | None) -> bool:
        return bool(credentials) and all(credentials.get(f.name) for f in self.fields if f.required)  # type: ignore[union-attr]

    def connect(self, credentials: Credentials) -> Connector:
        return self.connector.from_credentials(credentials)
