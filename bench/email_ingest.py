"""Email ingestion throughput: the corpus ingested N times into a fresh SQLite database, next to
the bare parse rate of the same mails in the same run.

    python bench/email_ingest.py [--rounds 5] [--corpus ../shared/corpus/email/zammad] [--database-url URL]

Each round re-sends every mail with a fresh Message-ID so that it is stored and threaded, not
skipped as a duplicate. Not a timed test: it prints figures for bench/README.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpdesk import create_app, db_of  # noqa: E402
from helpdesk.actors import SYSTEM  # noqa: E402
from helpdesk.tickets import services as tickets  # noqa: E402
from helpdesk.tickets.email import ingest  # noqa: E402
from helpdesk.tickets.email.parse import parse_mail  # noqa: E402


def default_corpus() -> Path:
    for candidate in (ROOT.parent / "shared/corpus/email/zammad", Path("/work/shared/corpus/email/zammad")):
        if candidate.is_dir():
            return candidate
    raise SystemExit("no corpus: pass --corpus DIR (a folder of .box/.eml files)")


def with_message_id(raw: bytes, mid: str) -> bytes:
    """Replace (or add) the Message-ID so each round is new mail."""
    head, sep, body = raw.partition(b"\n\n") if b"\r\n\r\n" not in raw[:65536] else raw.partition(b"\r\n\r\n")
    head = re.sub(rb"(?im)^message-id:.*(\r?\n[ \t].*)*\r?\n?", b"", head + b"\n").rstrip(b"\r\n")
    return head + f"\nMessage-ID: <{mid}>".encode() + sep + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    corpus = args.corpus or default_corpus()
    mails = [p.read_bytes() for p in sorted(corpus.iterdir()) if p.suffix in (".box", ".eml")]
    total_bytes = sum(len(m) for m in mails) * args.rounds

    start = time.perf_counter()
    for _ in range(args.rounds):
        for raw in mails:
            parse_mail(raw)
    parse_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": tmp,
                          "EMAIL_DOMAIN": "bench.test"})
        db = db_of(app)
        with db.unit_of_work() as s:
            inbox, _token = tickets.create_inbox(s, SYSTEM, name="Bench", channel="email",
                                                 address="support@bench.test")
            inbox_id = inbox.id
        settings = ingest.MailSettings.from_config(app.config)
        outcomes: dict[str, int] = {}
        start = time.perf_counter()
        for rnd in range(args.rounds):
            for i, raw in enumerate(mails):
                outcome = ingest.receive(db, with_message_id(raw, f"bench-{rnd}-{i}@bench.test"),
                                         transport="raw", settings=settings, inbox_id=inbox_id)
                outcomes[outcome.action] = outcomes.get(outcome.action, 0) + 1
        ingest_seconds = time.perf_counter() - start
        db.dispose()

    n = len(mails) * args.rounds
    print(f"corpus: {len(mails)} mails, {total_bytes / args.rounds / 1e6:.1f} MB, {args.rounds} rounds "
          f"({n} mails) -> {url.split(':', 1)[0]}")
    print(f"parse only : {n / parse_seconds:8.1f} mails/s  ({total_bytes / parse_seconds / 1e6:.1f} MB/s)")
    print(f"ingest     : {n / ingest_seconds:8.1f} mails/s  ({total_bytes / ingest_seconds / 1e6:.1f} MB/s)"
          "  store raw + parse + filter + thread + post, two commits per mail")
    print(f"outcomes   : {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))}")


if __name__ == "__main__":
    main()
