"""Opening stored mail: server time of the console's conversation page for big mails, next to the
baseline of the same run — what each page view cost when the display was computed in the request
(sanitise + fold on every view) — and the cost of refusing a 50,000-part mail before parsing next
to the stdlib parse it no longer does.

    python bench/email_open.py [--views 20] [--database-url URL]

Mails: the issue's 24,000-line quoted mail (360 KB of `2024-01-01 @:` lines), a 2 MB HTML mail
with a long quoted history, and a 50,000-part mail (quarantined). Not a timed test: it prints
figures for bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from email import message_from_bytes, policy
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from helpdesk import create_app, db_of  # noqa: E402
from helpdesk.accounts import services as accounts  # noqa: E402
from helpdesk.actors import SYSTEM  # noqa: E402
from helpdesk.tickets import services as tickets  # noqa: E402
from helpdesk.tickets.email import display, ingest  # noqa: E402
from helpdesk.tickets.models import Message  # noqa: E402

SUPPORT = "support@bench.test"


def text_mail(lines: int) -> bytes:
    body = "Hello,\nthe log you asked for:\n" + "\n".join("2024-01-01 @:" for _ in range(lines))
    return (f"From: Ann <ann@example.com>\r\nTo: {SUPPORT}\r\nSubject: long history\r\n"
            "Message-ID: <text@bench.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n").encode() + body.encode()


def html_mail(size: int) -> bytes:
    quoted = "".join(f"<p>Earlier message {i}: 2024-01-01 @ the order was late.</p>" for i in range(size // 60))
    markup = (f"<html><body><div>Thanks, that helps.</div><div class=\"gmail_quote\">On Mon, Ann wrote:"
              f"<blockquote>{quoted}</blockquote></div></body></html>")
    return (f"From: Ann <ann@example.com>\r\nTo: {SUPPORT}\r\nSubject: html history\r\n"
            "Message-ID: <html@bench.test>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n").encode() \
        + markup.encode()


def many_parts(count: int) -> bytes:
    head = (f"From: x@example.com\r\nTo: {SUPPORT}\r\nSubject: parts\r\nMessage-ID: <parts@bench.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n").encode()
    return head + b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * count + b"--b--\r\n"


BEFORE_COMMIT = "fe87dbd"  # the display code before this work: quadratic folding in every request


def display_before() -> ModuleType | None:
    """The old display module, loaded from git history, for the baseline (None outside a clone)."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE_COMMIT}:helpdesk/tickets/email/display.py"],
                                capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    module = ModuleType("display_before")
    sys.modules["display_before"] = module  # dataclasses look their module up
    exec(compile(source, "display_before.py", "exec"), module.__dict__)  # our own history, for the baseline
    return module


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(ms: list[float]) -> str:
    return f"median {statistics.median(ms):7.1f} ms, max {max(ms):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=20)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": tmp,
                          "EMAIL_DOMAIN": "bench.test", "WTF_CSRF_ENABLED": False})
        db = db_of(app)
        with db.unit_of_work() as s:
            inbox, _token = tickets.create_inbox(s, SYSTEM, name="Bench", channel="email", address=SUPPORT)
            accounts.create_agent(s, SYSTEM, email="agent@bench.test", password="quiet lamp orbit 42-1",
                                  role="agent", name="Agent")
            inbox_id = inbox.id
        settings = ingest.MailSettings.from_config(app.config)
        client = app.test_client()
        client.post("/login", data={"email": "agent@bench.test", "password": "quiet lamp orbit 42-1"})
        before = display_before()
        for name, raw in (("24,000-line mail of '2024-01-01 @:' lines (360 KB)", text_mail(24_000)),
                          ("2 MB HTML mail with quoted history", html_mail(1_900_000))):
            start = time.perf_counter()
            outcome = ingest.receive(db, raw, transport="raw", settings=settings, inbox_id=inbox_id)
            ingest_ms = (time.perf_counter() - start) * 1000
            assert outcome.action == "created", outcome
            page = f"/console/c/{outcome.conversation_id}"
            assert client.get(page).status_code == 200
            views = timed(lambda page=page: client.get(page), args.views)
            with db.unit_of_work() as s:
                message = s.scalar(select(Message).filter_by(public_id=outcome.message_id))
                text, html_body, atts = message.body_text, message.body_html, list(message.attachments)
            baseline = timed(lambda t=text, h=html_body, a=atts: display.render_message(
                t, h, a, display.attachment_url, load_remote=False), max(3, args.views // 4))
            print(f"{name}: ingest (parse, sanitise, fold, store) {ingest_ms:.0f} ms once")
            print(f"  open the page, stored display : {summary(views)}")
            print(f"  render in the request, now    : {summary(baseline)} (render alone, per view)")
            if before is not None:
                old = timed(lambda t=text, h=html_body, a=atts: before.render_message(
                    t, h, a, display.attachment_url, load_remote=False), 1)
                print(f"  baseline, before ({BEFORE_COMMIT})     : {summary(old)} (render alone, every view)")
        raw = many_parts(50_000)
        start = time.perf_counter()
        outcome = ingest.receive(db, raw, transport="raw", settings=settings, inbox_id=inbox_id)
        refuse_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        message_from_bytes(raw, policy=policy.default).get_body()
        parse_ms = (time.perf_counter() - start) * 1000
        print(f"50,000-part mail ({len(raw) / 1e6:.1f} MB): quarantined in {refuse_ms:.0f} ms "
              f"({outcome.action}, {outcome.reason}); baseline stdlib parse alone {parse_ms:.0f} ms")
        db.dispose()


if __name__ == "__main__":
    main()
