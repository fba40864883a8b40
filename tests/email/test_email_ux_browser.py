"""The reply box as an agent uses it, in Debian's Chromium: a customer mail with a Cc and a photo
shows its headers and a thumbnail that opens full size, its link is safe, Reply all fills the Cc,
a pasted screenshot and a dropped PDF are previewed before sending, and the mail that reaches the
SMTP server carries the Cc and both files. Screenshots go to $HELPDESK_SCREENSHOTS (default: the
test's tmp folder) for a human to look at."""

from __future__ import annotations

import base64
import os
import struct
import zlib
from pathlib import Path

import pytest
import requests

from helpdesk.accounts import services as accounts
from helpdesk.actors import SYSTEM
from helpdesk.db import Database
from helpdesk.tickets import services as tickets
from tests.conftest import PASSWORD
from tests.email.test_console_browser import CHROMIUM_ARGS, live_server  # noqa: F401  (the fixture)
from tests.servers import wait_until


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real (decodable) PNG of one colour: the browser must be able to draw the thumbnail."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def photo_mail() -> bytes:
    photo = base64.b64encode(png(320, 200, (220, 120, 40))).decode()
    return ("From: Ann Buyer <ann@example.com>\r\nTo: support@shop.example\r\n"
            "Cc: Bob Partner <bob@example.com>, support@shop.example\r\n"
            "Subject: The lid is broken\r\nMessage-ID: <photo-1@example.com>\r\n"
            "Date: Sat, 28 Nov 2026 06:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Hello, the lid arrived broken, photo attached. Order page: https://shop.example/orders/1009 "
            "and not javascript:alert(1)\r\n"
            '--b1\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename="lid.png"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{photo}\r\n--b1--\r\n").encode()


@pytest.mark.browser
def test_reply_box_with_cc_pasted_and_dropped_files_and_image_previews(
        live_server, smtp, tmp_path: Path) -> None:  # noqa: F811
    playwright = pytest.importorskip("playwright.sync_api")
    expect = playwright.expect
    shots = Path(os.environ.get("HELPDESK_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    db = Database(live_server.database_url)
    try:
        with db.unit_of_work() as s:
            accounts.create_agent(s, SYSTEM, email="alice@example.com", password=PASSWORD, role="agent",
                                  name="Alice Agent")
            inbox, token = tickets.create_inbox(s, SYSTEM, name="Support mail", channel="email",
                                                address="support@shop.example")
            inbox.settings = {"signature": "{agent_name} · {inbox_name}"}
    finally:
        db.dispose()
    answer = requests.post(f"{live_server.url}/inbound/email/raw", data=photo_mail(), timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 202, answer.text
    conversation_id = answer.json()["conversation_id"]
    screenshot = png(64, 48, (40, 120, 220))

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=email]", "alice@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/console/c/{conversation_id}")

        # The customer's mail: its Cc, a thumbnail that really draws, a link that gives nothing away.
        first = page.locator("#thread li.msg").first
        expect(first.locator(".h-cc")).to_contain_text("bob@example.com")
        thumb = first.locator("img.att-thumb")
        expect(thumb).to_be_visible()
        wait_until(lambda: thumb.evaluate("i => i.complete && i.naturalWidth") == 320, timeout=10,
                   message="the photo thumbnail to load")
        assert thumb.evaluate("i => i.closest('a').target") == "_blank"
        link = first.locator("a[href='https://shop.example/orders/1009']")
        assert link.get_attribute("rel") == "noopener noreferrer nofollow" and link.get_attribute("target") == "_blank"
        assert first.locator("a[href^='javascript']").count() == 0
        first.screenshot(path=str(shots / "email-message-cc-image.png"))

        # Reply all copies Bob, never our own address; the signature preview is under the box.
        page.check("input[name=reply_mode][value=reply_all]")
        assert page.input_value("#rcpt-to") == "ann@example.com"
        assert page.input_value("#rcpt-cc") == "bob@example.com"
        expect(page.locator("#signature-preview")).to_contain_text("Alice Agent · Support mail")
        page.fill("#rcpt-bcc", "boss@shop.example")
        page.fill("#reply", "Sorry about the lid! A new one ships today: https://shop.example/track/1009")

        # A pasted screenshot and a dropped PDF, previewed before sending.
        page.evaluate("""([bytes]) => {
            const file = new File([new Uint8Array(bytes)], "image.png", { type: "image/png" });
            const paste = new DataTransfer(); paste.items.add(file);
            document.getElementById("reply").dispatchEvent(
                new ClipboardEvent("paste", { clipboardData: paste, bubbles: true, cancelable: true }));
            const drop = new DataTransfer();
            drop.items.add(new File(["%PDF-1.4 return label"], "label.pdf", { type: "application/pdf" }));
            const composer = document.getElementById("composer");
            composer.dispatchEvent(new DragEvent("dragover", { dataTransfer: drop, bubbles: true, cancelable: true }));
            composer.dispatchEvent(new DragEvent("drop", { dataTransfer: drop, bubbles: true, cancelable: true }));
        }""", [list(screenshot)])
        items = page.locator("#attach-list li")
        expect(items).to_have_count(2)
        assert items.nth(0).locator("img").evaluate("i => i.complete && i.naturalWidth") == 64
        expect(items.nth(1)).to_contain_text("label.pdf")
        assert page.evaluate("document.getElementById('attach-input').files.length") == 2
        page.locator("#composer").screenshot(path=str(shots / "reply-box-cc-files.png"))

        page.click("#composer button[type=submit]")
        sent = page.locator("#thread li.msg-agent")
        expect(sent).to_have_count(1)
        expect(sent.locator(".h-cc")).to_contain_text("bob@example.com")
        expect(sent.locator(".h-bcc")).to_contain_text("boss@shop.example")
        expect(sent.locator("img.att-thumb")).to_have_count(1)
        wait_until(lambda: sent.locator("img.att-thumb").evaluate("i => i.complete && i.naturalWidth") == 64,
                   timeout=10, message="the sent image's thumbnail")
        assert sent.locator("a[href='https://shop.example/track/1009']").get_attribute("rel") == \
            "noopener noreferrer nofollow"
        expect(page.locator("#attach-list li")).to_have_count(0)
        assert page.input_value("#reply") == ""
        wait_until(lambda: smtp.messages, timeout=20, message="the reply to reach the SMTP server")
        page.screenshot(path=str(shots / "email-conversation-after-reply.png"), full_page=True)

        # "New email" from the queue: the inbox's signature is previewed; it opens a conversation.
        page.goto(f"{live_server.url}/console")
        page.click("a.new-email")
        expect(page.locator("#signature-preview")).to_contain_text("Alice Agent · Support mail")
        page.fill("input[name=to]", "dora@example.com")
        page.fill("input[name=subject]", "Your replacement lid")
        page.fill("textarea[name=body]", "Hello Dora, your lid ships today.")
        page.screenshot(path=str(shots / "compose.png"), full_page=True)
        page.click("#compose-form button[type=submit]")
        page.wait_for_url("**/console/c/**")
        expect(page.locator("#thread li.msg-agent .h-to")).to_have_text("dora@example.com")
        wait_until(lambda: len(smtp.messages) == 2, timeout=20, message="the new email to be sent")
        browser.close()
    assert errors == []
    assert smtp.parsed(1)["Subject"].startswith("Your replacement lid [#")
    _from, envelope, raw = smtp.messages[0]
    mail = smtp.parsed(0)
    assert mail["Cc"] == "bob@example.com" and b"boss@shop.example" not in raw
    assert sorted(envelope) == ["ann@example.com", "bob@example.com", "boss@shop.example"]
    files = {part.get_filename(): part.get_content_type() for part in mail.iter_attachments()}
    assert len(files) == 2 and "label.pdf" in files and "image/png" in files.values()
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.rstrip().endswith("-- \nAlice Agent · Support mail")
