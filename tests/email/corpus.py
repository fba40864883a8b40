"""Where the third-party mail corpora live (read in place, never copied: Zammad's are AGPL)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from helpdesk.tickets.email.parse import ParsedMail
from helpdesk.tickets.email.text import html_to_text, normalise

REPO_ROOT = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path | None:
    for candidate in (REPO_ROOT.parent / "shared/corpus/email", Path("/work/shared/corpus/email")):
        if (candidate / "zammad").is_dir():
            return candidate
    return None


CORPUS = corpus_dir()
SKIP_REASON = ("the email corpus is absent: expected ../shared/corpus/email beside the repository "
               "(or /work/shared/corpus/email)")


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!ruby/hash:ActiveSupport::HashWithIndifferentAccess",
                        lambda loader, node: loader.construct_mapping(node, deep=True))
_Loader.add_constructor("!binary",
                        lambda loader, node: base64.b64decode("".join(loader.construct_scalar(node).split())))


def zammad_mails() -> list[Path]:
    return sorted((CORPUS / "zammad").glob("*.box")) if CORPUS else []


def expectation(box: Path) -> dict[str, Any]:
    with box.with_suffix(".yml").open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)


def md5(data: Any) -> str:
    """MD5 of a payload with line ends unified: Zammad stores text with LF, the wire has CRLF."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.md5((data or b"").replace(b"\r\n", b"\n")).hexdigest()


HEADER_KEYS = {"from": "from_header", "from_email": "from_email", "from_display_name": "from_name",
               "to": "to", "cc": "cc", "reply-to": "reply_to", "subject": "subject"}
ADDRESS_KEYS = {"from", "to", "cc", "reply-to"}

# Where Zammad's frozen answer is itself wrong, our answer is checked against the right one and
# the deviation is listed in the score report. Each entry says why.
ZAMMAD_ERRATA: dict[tuple[str, str], tuple[str, str]] = {
    ("mail018", "subject"): ("Benachrichtung zum Übermittlungsstatus (Fehlgeschlagen)",
                             "the subject is UTF-7 (+ANw-); Zammad left it undecoded"),
    ("mail046", "from"): ('"武兰成" <Glopelf7121@example.com>',
                          "raw 8-bit GB2312 header (the charset of the mail's text); Zammad read it as "
                          "windows-1250 mojibake"),
    ("mail046", "from_display_name"): ("武兰成", "same raw GB2312 header"),
    ("mail065", "from"): ('"Bürling, Andreas" <smith@example.com>',
                          "a valid RFC 2047 word Zammad did not decode"),
    ("mail065", "from_display_name"): ("Bürling, Andreas", "Zammad split the encoded word at its space"),
    ("mail076", "from_email"): ('"Millions Lottery Spain transfer"@example.com',
                                "Zammad kept the stray '>' of a broken spam header in the address"),
    ("mail076", "from_display_name"): ("", "the header has no display name; Zammad made one of the address"),
    ("mail087", "from_display_name"): ("Test", "'From: Test test@example.com': the name is Test"),
    ("mail087", "from_email"): ("test@example.com", "'From: Test test@example.com': the address is the "
                                                     "part with the @"),
    ("mail035", "from_email"): ("finances8@firstfinanceloanfirm.example.com",
                                "Zammad kept the quotes around a bare address"),
    ("mail027", "subject"): ("蠭龕中層管理者如何避免角色行为誤区",
                             "Zammad kept a folded line break at the start of the subject"),
}


def _addresses(value: str) -> list[tuple[str, str]]:
    from email.utils import getaddresses

    pairs = []
    for name, addr in getaddresses([value or ""]):
        if "@" in addr:
            name = re.sub(r"\([^()]*\)", "", name) or name  # comments are not names
            pairs.append((" ".join(name.replace('"', "").replace("'", "").split()), addr.lower()))
    return pairs


def _same(key: str, expected: str, got: str) -> bool:
    if key in ADDRESS_KEYS:
        return _addresses(expected) == _addresses(got)
    if key == "from_email":
        return expected.lower() == got.lower()
    # subject, display name: whitespace is not meaning (we also drop what a header fold left)
    def flat(value: str) -> str:
        return " ".join((value or "").replace('"', "").split())

    return flat(expected) == flat(got)


def compare(parsed: ParsedMail, expected: dict[str, Any], name: str = "") -> dict[str, list[str]]:
    """Mismatches per area: headers, attachments (MD5 subset), body (normalised text); plus the
    errata applied (`errata`)."""
    problems: dict[str, list[str]] = {"headers": [], "attachments": [], "body": [], "errata": []}
    for key, attr in HEADER_KEYS.items():
        if key not in expected:
            continue
        want = expected[key] or ""
        if (name, key) in ZAMMAD_ERRATA:
            want, why = ZAMMAD_ERRATA[(name, key)]
            problems["errata"].append(f"{key}: {why}")
        got = getattr(parsed, attr) or ""
        if not _same(key, want, got):
            problems["headers"].append(f"{key}: expected {want!r}, got {got!r}")
    ours = {md5(a.data) for a in parsed.attachments}
    for att in expected.get("attachments") or []:
        prefs = att.get("preferences") or {}
        if prefs.get("content-alternative") or prefs.get("original-format"):
            continue  # Zammad keeps the HTML body as an attachment too; ours is the message body
        if md5(att.get("data")) not in ours:
            problems["attachments"].append(f"missing {att.get('filename')!r} ({md5(att.get('data'))})")
    want = expected.get("body") or ""
    if want == "no visible content":
        want = ""  # Zammad's placeholder for a mail without a text body
    if expected.get("content_type") == "text/html":
        want = html_to_text(want)
    as_html = parsed.html and expected.get("content_type") == "text/html"
    got = html_to_text(parsed.html) if as_html else parsed.text
    if normalise(want) != normalise(got):
        problems["body"].append("body differs after normalising to text")
    return problems
