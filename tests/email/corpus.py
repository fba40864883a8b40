"""Where the third-party mail corpora live (read in place, never copied: Zammad's are AGPL)."""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Callable
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


def _as_latin2(text: str) -> str:
    """How Zammad shows UTF-8 text it read as ISO-8859-2 (its fallback for a part it cannot decode)."""
    return text.encode("utf-8").decode("iso-8859-2")


UUENCODED_FILE = re.compile(r"(?:^| )begin [0-7]{3,4} \S.*? end(?= |$)")  # on whitespace-normalised text
AVAST_RU = "Это сообщение свободно от вирусов и вредоносного ПО благодаря avast! Antivirus защита активна."

# Bodies where Zammad's frozen answer is wrong: a repair of Zammad's text (after it is turned into
# text and whitespace-normalised) into the right one, and why. Our body is checked against that.
ZAMMAD_BODY_ERRATA: dict[str, tuple[Callable[[str], str], str]] = {
    "mail018": (lambda body: body.encode("ascii").decode("utf-7"),
                "the part is charset=unicode-1-1-utf-7; Zammad left it undecoded (+APw-ber for über)"),
    "mail021": (lambda body: body.replace(" ".join(_as_latin2(AVAST_RU).split()), AVAST_RU)
                .replace("oď ered", "oï ered"),
                "a UTF-8 part with two stray Latin-1 bytes: Zammad read the whole part as ISO-8859-2, "
                "turning the Russian avast! footer into mojibake; we keep the UTF-8 and read only the "
                "stray bytes as Windows-1252 (0xEF: ï, where Zammad's ISO-8859-2 says ď)"),
    "mail025": (lambda body: " ".join(UUENCODED_FILE.sub("", body).split()),
                "the 'begin 644 rulesets-report.csv … end' block is an inline uuencoded file, shown "
                "as an attachment by mail readers; Zammad left the encoded lines in the body"),
    "mail054": (lambda body: "some text",
                "headers continued without indentation (References, the boundary of Content-Type): "
                "Zammad found no body ('no visible content'); the alternatives are 'some text' and "
                "'<b>some text</b>'"),
    "mail060": (lambda body: body.replace(_as_latin2("äöü - 差出人"), "äöü - 差出人"),
                "charset=iso-gb2312 (no such charset) on text that is UTF-8 with Latin-1 bytes after "
                "it: Zammad read all of it as ISO-8859-2"),
    "mail072": (lambda body: body.encode("iso-8859-2").decode("cp1258"),
                "charset=windows-1258: Zammad read the French text as ISO-8859-2 "
                "('suite ŕ ma commande', 'aoűt') where windows-1258 says 'à', 'août'"),
}

# Zammad's sanitiser turns the HTML <title> into the first line of the body. The title is the
# document's name, not its text: no mail reader shows it in the message, nor do we.
TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)

# &lang; / &rang; are U+2329/U+232A in HTML 4 (Unicode folds them into U+3008/U+3009) and
# U+27E8/U+27E9 in HTML 5: the same entity, the same bracket on screen.
ANGLE_BRACKETS = str.maketrans({"\u2329": "\u27e8", "\u3008": "\u27e8", "\u232a": "\u27e9", "\u3009": "\u27e9"})

# The mails whose body still differs, each with why; the score test fails if any other mail's
# body differs (a ratchet: fix one, remove it here).
BODY_STILL_DIFFERENT: dict[str, str] = {
    "mail023": "12 bytes of 8-bit text with no charset anywhere, at the top of a 120 kB ASCII body: "
               "GB18030 and CP949 both decode them; Zammad's detector chose Chinese, our guesser "
               "(which sees mostly ASCII) a Western codepage",
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
    want, got = normalise(want).translate(ANGLE_BRACKETS), normalise(got).translate(ANGLE_BRACKETS)
    title = TITLE.search(parsed.html or "") if as_html else None
    title_text = normalise(html_to_text(title.group(1))) if title else ""
    if title_text and want.startswith(title_text) and not got.startswith(title_text):
        want = want[len(title_text):].lstrip()
        problems["errata"].append("body: Zammad put the HTML <title> in the body")
    if name in ZAMMAD_BODY_ERRATA:
        repair, why = ZAMMAD_BODY_ERRATA[name]
        want = repair(want)
        problems["errata"].append(f"body: {why}")
    # Canonically equivalent forms (a + combining grave, à) are the same text to any reader.
    if unicodedata.normalize("NFC", want) != unicodedata.normalize("NFC", got):
        problems["body"].append("body differs after normalising to text")
    return problems
