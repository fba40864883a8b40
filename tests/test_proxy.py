"""Behind a reverse proxy (HELPDESK_PROXY_FIX_HOPS), limits count each shopper's own address."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.factories import make_inbox


def lookups(client: Any, site: str, address: str, n: int) -> list[int]:
    return [client.post("/widget/orders/lookup", json={"site": site, "number": "9999", "email": "x@example.com"},
                        headers={"X-Forwarded-For": address}).status_code for _ in range(n)]


@pytest.mark.parametrize(("hops", "second_shopper"), [(1, 404), (0, 429)])
def test_forwarded_addresses_are_trusted_only_when_configured(app_config: dict[str, Any], hops: int,
                                                              second_shopper: int) -> None:
    from helpdesk import create_app, db_of

    app: Flask = create_app({**app_config, "PROXY_FIX_HOPS": hops, "ORDER_LOOKUP_RATE": "3/minute"})
    try:
        _inbox, site = make_inbox(app)
        client = app.test_client()
        assert lookups(client, site, "203.0.113.1", 4) == [404, 404, 404, 429]
        # Another shopper behind the same proxy: their own budget only when the proxy is trusted.
        assert lookups(client, site, "203.0.113.2", 1) == [second_shopper]
    finally:
        db_of(app).dispose()
