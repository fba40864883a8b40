"""Marketing fixtures: one fake Mailchimp per module, the app pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.marketing import mailchimp_fake
from tests.marketing.mailchimp_fake import FakeMailchimp


@pytest.fixture(scope="module")
def mailchimp_server() -> Iterator[FakeMailchimp]:
    fake, server = mailchimp_fake.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def mailchimp(mailchimp_server: FakeMailchimp) -> FakeMailchimp:
    mailchimp_server.reset()
    return mailchimp_server


@pytest.fixture
def app_config(app_config: dict[str, Any], mailchimp: FakeMailchimp) -> dict[str, Any]:
    return {**app_config, "MAILCHIMP_API_KEY": mailchimp.key, "MAILCHIMP_LIST_ID": mailchimp.list_id,
            "MAILCHIMP_API_URL": mailchimp.url}
