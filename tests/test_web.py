"""Redirect targets taken from the request stay on this site."""

import pytest
from flask import Flask

from helpdesk.web import local_url


@pytest.mark.parametrize(("target", "expected"), [
    ("/console?view=all", "/console?view=all"),
    ("http://localhost/admin/crm", "/admin/crm"),
    ("//evil.example/phish", "/fallback"),
    ("https://evil.example/console", "/fallback"),
    ("/\\evil.example", "/fallback"),
    ("javascript:alert(1)", "/fallback"),
    ("", "/fallback"),
    (None, "/fallback"),
])
def test_only_pages_of_this_site_are_redirect_targets(app: Flask, target: str | None, expected: str) -> None:
    with app.test_request_context("/", base_url="http://localhost"):
        assert local_url(target, "/fallback") == expected
