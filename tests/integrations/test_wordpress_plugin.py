"""The WordPress/WooCommerce plugin (integrations/wordpress/helpdesk-widget): every PHP file
passes `php -l` (Debian's php-cli); the identity HMAC it makes for a logged-in customer is one
the helpdesk's own check accepts; its page output is escaped and never carries the secret."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpdesk.chat.visitors import signature_ok
from helpdesk.tickets.models import Inbox

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "integrations" / "wordpress" / "helpdesk-widget"
RENDER = Path(__file__).with_name("wordpress_render.php")
PHP = shutil.which("php")
SECRET = "s3cr3t-inbox-secret-0123456789abcdef"
pytestmark = pytest.mark.skipif(PHP is None, reason="php-cli is not installed (scripts/test installs it)")


def render(options: dict[str, Any], user: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    done = subprocess.run([PHP or "php", str(RENDER)], input=json.dumps({"options": options, "user": user, **extra}),
                          capture_output=True, text=True, timeout=20, check=True)
    return json.loads(done.stdout)


def customer(email: str = "Ann.Shopper@example.com", **fields: Any) -> dict[str, Any]:
    return {"ID": 7, "user_email": email, "display_name": "ann", "first_name": "Ann", "last_name": "Shopper",
            **fields}


def identify_call(page: str) -> dict[str, Any] | None:
    match = re.search(r"helpdesk\('identify', (\{.*?\})\);", page)
    return json.loads(match.group(1)) if match else None


@pytest.mark.parametrize("path", sorted([*PLUGIN.rglob("*.php"), RENDER]), ids=lambda p: p.name)
def test_every_php_file_passes_php_lint(path: Path) -> None:
    done = subprocess.run([PHP or "php", "-l", str(path)], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_plugins_identity_hmac_is_what_the_helpdesk_verifies() -> None:
    email = "Ann.Shopper@example.com"
    out = render({"url": "https://help.example", "site_key": "site1", "secret": SECRET}, customer(email),
                 email=email, secret=SECRET)
    inbox = Inbox(secret=SECRET)
    assert signature_ok(inbox, email, out["hmac"])
    assert not signature_ok(Inbox(secret=SECRET + "x"), email, out["hmac"])
    assert not signature_ok(inbox, "ann.shopper@example.com", out["hmac"])  # signed over the string as sent
    # The logged-in customer's page carries exactly that identity.
    assert identify_call(out["page"]) == {"email": email, "name": "Ann Shopper", "hmac": out["hmac"]}


def test_the_footer_embed_is_escaped_and_never_carries_the_secret() -> None:
    hostile = '</script><script>alert("x")</script> O\'Brien & <b>co</b>'
    out = render({"url": "https://help.example/", "site_key": 'k"><script>alert(1)</script>', "secret": SECRET},
                 customer("ann@example.com", first_name=hostile, last_name=""))
    page = out["page"]
    assert SECRET not in page and SECRET not in out["settings"]
    assert page.count("<script") == 2 and page.count("</script>") == 2  # nothing of theirs opens or closes one
    assert '<script data-site="k&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" src="https://help.example/widget.js"' \
        in page
    assert 'async data-wp-strategy="async"' in page
    assert identify_call(page)["name"] == hostile  # the JSON carries the text intact, as \u003C... escapes
    assert "<b>" not in page and "O'Brien" not in page
    # The queue stub comes first, so helpdesk('identify', ...) waits for the loader.
    assert page.index("window.helpdesk = window.helpdesk ||") < page.index("helpdesk('identify'") \
        < page.index("widget.js")


def test_guests_get_the_widget_without_an_identity_and_an_unconfigured_plugin_adds_nothing() -> None:
    guest = render({"url": "https://help.example", "site_key": "site1", "secret": SECRET})
    assert "widget.js" in guest["page"] and identify_call(guest["page"]) is None
    no_secret = render({"url": "https://help.example", "site_key": "site1"}, customer())
    assert identify_call(no_secret["page"]) is None  # unsigned identities would be ignored anyway
    assert render({"url": "javascript:alert(1)", "site_key": "site1"})["page"] == ""
    assert render({"url": "https://help.example", "site_key": ""})["page"] == ""


def test_the_settings_page_keeps_the_secret_write_only() -> None:
    saved = {"url": "https://help.example", "site_key": "site1", "secret": SECRET}
    out = render(saved, post={"url": "https://help.example", "site_key": " site2 ", "secret": ""})
    assert 'name="helpdesk_widget_options[secret]" value=""' in out["settings"]
    assert "A secret is saved" in out["settings"]
    assert out["sanitized"] == {"url": "https://help.example", "site_key": "site2", "secret": SECRET}
    replaced = render(saved, post={"url": "ftp://nope", "site_key": "site1", "secret": "new-secret"})["sanitized"]
    assert replaced == {"url": "https://help.example", "site_key": "site1", "secret": "new-secret"}
    forgot = render(saved, post={"url": "https://help.example", "site_key": "site1", "forget_secret": "1"})
    assert forgot["sanitized"]["secret"] == ""
