"""The connected shops: rows of the shops table, and the shop of each platform's HELPDESK_*
settings (the default shop). Credentials are read here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.actors import Actor
from helpdesk.errors import Invalid, NotFound
from helpdesk.orders import CONNECTORS
from helpdesk.orders.models import Shop
from helpdesk.orders.platform import Platform


@dataclass
class ShopView:
    """A shop as the admin page and the sync see it (credentials only for the sync)."""

    platform: str
    key: str
    credentials: dict[str, Any]
    id: int | None = None  # None: from settings

    @property
    def from_settings(self) -> bool:
        return self.id is None


def platform_of(name: str) -> Platform:
    try:
        return CONNECTORS[name]
    except KeyError:
        raise Invalid("platform", f"unknown platform; one of {', '.join(sorted(CONNECTORS))}") from None


def default_shop(settings: Mapping[str, Any], platform: str) -> ShopView | None:
    desc = platform_of(platform)
    creds = desc.env_credentials(settings)
    if not desc.configured(creds):
        return None
    return ShopView(platform, desc.connect(creds).shop, creds)


def shops_of(session: Session, settings: Mapping[str, Any], platform: str) -> list[ShopView]:
    """Every shop of a platform: the one of the settings first, then the table's."""
    found = [s for s in [default_shop(settings, platform)] if s]
    for row in session.scalars(select(Shop).filter_by(platform=platform).order_by(Shop.id)):
        if not any(s.key == row.key for s in found):
            found.append(ShopView(platform, row.key, dict(row.credentials), row.id))
    return found


def find_shop(session: Session | None, settings: Mapping[str, Any], platform: str,
              key: str | None = None) -> ShopView | None:
    """The shop `key` of a platform (None: its first shop). Without a session, settings only."""
    default = default_shop(settings, platform)
    if default and (key is None or default.key == key):
        return default
    if session is None:
        return None
    query = select(Shop).filter_by(platform=platform)
    row = session.scalar(query.filter_by(key=key) if key is not None else query.order_by(Shop.id).limit(1))
    return ShopView(platform, row.key, dict(row.credentials), row.id) if row else None


def save_shop(session: Session, actor: Actor, platform: str, values: Mapping[str, str],
              shop_id: int | None = None) -> Shop:
    """Create or edit a shop. An empty secret keeps the stored one: secrets are written, never read back."""
    desc = platform_of(platform)
    row = session.get(Shop, shop_id) if shop_id is not None else None
    if shop_id is not None and (row is None or row.platform != platform):
        raise NotFound("no such shop")
    creds: dict[str, Any] = dict(row.credentials) if row else {}
    for f in desc.fields:
        value = (values.get(f.name) or "").strip()
        if len(value) > 2000:
            raise Invalid(f.name, "too long")
        if value:
            creds[f.name] = value
        elif not f.secret:
            creds.pop(f.name, None)
    missing = [f.label for f in desc.fields if f.required and not creds.get(f.name)]
    if missing:
        raise Invalid("shop", f"{', '.join(missing)} required")
    key = desc.connect(creds).shop[:255]
    clash = session.scalar(select(Shop).filter_by(platform=platform, key=key))
    if clash is not None and clash is not row:
        raise Invalid("shop", f"{key} is already connected")
    if row is None:
        row = Shop(platform=platform, key=key, credentials=creds)
        session.add(row)
    else:
        row.key, row.credentials = key, creds
    session.flush()
    from helpdesk.accounts.services import audit

    audit(session, actor, "orders.shop_saved", "shop", f"{platform}:{key}")  # never the credentials
    return row


def delete_shop(session: Session, actor: Actor, shop_id: int) -> None:
    row = session.get(Shop, shop_id)
    if row is None:
        raise NotFound("no such shop")
    from helpdesk.accounts.services import audit

    audit(session, actor, "orders.shop_removed", "shop", f"{row.platform}:{row.key}")
    session.delete(row)
    session.flush()
