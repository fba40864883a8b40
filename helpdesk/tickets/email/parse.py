"""Raw RFC 822 bytes -> a ParsedMail: stdlib `email` with `policy.default`, plus the fallbacks real
mail needs (unknown or lying charsets, raw 8-bit headers, broken encoded words, uuencode,
message/rfc822 parts, inline cid images). Touches no database."""

from __future__ import annotations

import binascii
import codecs
import email
import email.parser
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime

MAX_HEADER_CHARS = 8_000  # longer headers are cut: a 100k-char header is an attack, not a subject
MAX_PARTS = 500

# Names mail programs use that Python's codecs do not know, or that lie about a superset.
CHARSET_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8", "x-mac-roman": "mac_roman", "unicode-1-1-utf-7": "utf-7",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
    "x-unknown": "cp1252", "unknown-8bit": "cp1252", "windows-1252": "cp1252", "ansi_x3.4-1968": "cp1252",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "iso-2022-jp": "iso2022_jp_ext",
    "euc-kr": "cp949", "big5": "big5hkscs", "tis-620": "cp874",
}

ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?]*?)\?=")
_BETWEEN_WORDS = re.compile(r"(=\?[^?\s]+\?[QqBb]\?[^?]*?\?=)\s+(?==\?[^?\s]+\?[QqBb]\?[^?]*?\?=)")
UUENCODE_BLOCK = re.compile(rb"^begin [0-7]{3,4} ([^\r\n]+)\r?\n(.*?)^end\s*$", re.M | re.S)


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass
class ParsedMail:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_header: str
    from_email: str
    from_name: str
    to: str
    cc: str
    reply_to: str
    subject: str
    date: datetime | None
    text: str
    html: str | None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased, loop/noise headers only
    content_type: str = "text/plain"
    delivery_status: dict[str, str] = field(default_factory=dict)  # DSN fields of a bounce
    bounced_message_ids: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    @property
    def recipients(self) -> list[str]:
        return [addr.lower() for _n, addr in getaddresses([self.to, self.cc]) if "@" in addr]

    @property
    def is_dsn(self) -> bool:
        return bool(self.delivery_status)


NOISE_HEADERS = ("auto-submitted", "precedence", "x-autoreply", "x-autorespond", "return-path",
                 "x-auto-response-suppress", "list-id", "list-unsubscribe", "x-loop", "x-helpdesk-loop",
                 "x-mailer", "x-failed-recipients", "delivered-to")


# -- charsets -----------------------------------------------------------------------------------

def codec_for(charset: str | None) -> str | None:
    name = (charset or "").strip().strip('"').lower()
    if not name:
        return None
    name = CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _decode_8bit(data: bytes, charset: str | None) -> str:
    """Raw 8-bit header bytes: UTF-8, else the charset the body declares, else a Western guess."""
    declared = codec_for(charset)
    candidates = ["utf-8", declared, "cp1252", "latin-1"]
    if declared and declared.startswith("iso2022_jp"):
        candidates[1] = "cp932"  # "ISO-2022-JP" mail with 8-bit bytes is Shift_JIS in practice
    for name in candidates:
        if name:
            try:
                return data.decode(name)
            except UnicodeDecodeError:
                continue
    return data.decode("latin-1")


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Bytes to text: the declared charset if it decodes cleanly, then UTF-8, then the best guess."""
    tried = []
    declared = codec_for(charset)
    if declared and declared.startswith(("iso2022", "utf_7")) and any(b > 0x7F for b in data):
        declared = None  # a 7-bit charset cannot hold 8-bit bytes: the label lies
    japanese = "2022_jp" in (codec_for(charset) or "")
    if japanese and declared:
        try:
            return data.decode(declared)
        except UnicodeDecodeError:
            # NEC extensions (circled digits) are not JIS X 0208, but JIS X 0213, its superset,
            # has them: read the JIS X 0208 runs as JIS X 0213.
            try:
                return data.replace(b"\x1b$B", b"\x1b$(Q").decode("iso2022_jp_2004")
            except UnicodeDecodeError:
                declared = None
    for name in (declared, "utf-8", "cp932" if japanese else None):
        if name and name not in tried:
            tried.append(name)
            try:
                return data.decode(name)
            except (UnicodeDecodeError, LookupError):
                continue
    if len(data) < 200:
        # Too little text for a statistical guess (it turns "café" into CJK): assume Western.
        return data.decode("cp1252", errors="replace")
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is not None:
            return str(best)
    except Exception:  # a guesser crash must not lose the mail
        pass
    return data.decode(codec_for(charset) or "cp1252", errors="replace")


# -- headers ------------------------------------------------------------------------------------

def _decode_word(charset: str, encoding: str, text: str) -> str | None:
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix
    try:
        if encoding.upper() == "B":
            data = binascii.a2b_base64(text + "=" * (-len(text) % 4))
        else:
            data = re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                          text.replace("_", " ").encode("ascii", "surrogateescape"))
    except (binascii.Error, ValueError):
        return None
    return decode_bytes(data, charset)


ADDRESS_HEADERS = {"from", "to", "cc", "bcc", "reply-to", "sender", "return-path", "delivered-to"}
_SPECIALS = re.compile(r'[,;:@<>()\[\]\\"]')


def decode_header_value(value: str, fallback: str | None = None, *, phrase: bool = False) -> str:
    """Unfold, turn raw 8-bit bytes into text, decode RFC 2047 words (also glued or broken ones)."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        value = _decode_8bit(value.encode("utf-8", "surrogateescape"), fallback)
    value = re.sub(r"\r?\n[ \t]", " ", value).replace("\r", "").replace("\n", "")
    value = _BETWEEN_WORDS.sub(r"\1", value)
    if "=?" not in value:
        return value.strip()
    # Encoded words inside a quoted string are not decoded (RFC 2047 section 5): keep them as is.
    pieces = re.split(r'("(?:[^"\\]|\\.)*")', value)
    out = []
    for piece in pieces:
        if piece.startswith('"') and len(piece) > 1 and piece.endswith('"') and "=?" in piece:
            # Forbidden but common: a whole encoded word quoted. Decode it, keep the quotes.
            inner = piece[1:-1].strip()
            match = ENCODED_WORD.fullmatch(inner)
            decoded = _decode_word(*match.groups()) if match else None
            out.append(f'"{decoded}"' if decoded is not None else piece)
            continue

        def word(m: re.Match[str]) -> str:
            decoded = _decode_word(m.group(1), m.group(2), m.group(3))
            if decoded is None:
                return m.group(0)
            if phrase and _SPECIALS.search(decoded):
                # "Müller, Bernd" in an address list: without quotes the comma splits the name.
                return '"' + decoded.replace("\\", "\\\\").replace('"', '\\"') + '"'
            return decoded

        out.append(_merge_quoted(ENCODED_WORD.sub(word, piece)) if phrase else ENCODED_WORD.sub(word, piece))
    return "".join(out).strip()


def _merge_quoted(text: str) -> str:
    """Two adjacent quoted words (from two encoded words) become one quoted phrase."""
    return re.sub(r'"((?:[^"\\]|\\.)*)"(\s*)"((?:[^"\\]|\\.)*)"', r'"\1\2\3"', text)


def header(msg: Message, name: str, fallback: str | None = None) -> str:
    """The decoded text of a header (first occurrence), never raising on broken input."""
    for key, value in msg.raw_items() if isinstance(msg, EmailMessage) else msg.items():
        if key.lower() == name.lower():
            text = decode_header_value(str(value)[: MAX_HEADER_CHARS * 2], fallback,
                                       phrase=name.lower() in ADDRESS_HEADERS)
            return text[:MAX_HEADER_CHARS]
    return ""


MSGID = re.compile(r"<([^<>\s]+)>")


def message_ids(value: str) -> list[str]:
    """Message-IDs of an In-Reply-To or References header, in order, without brackets."""
    found = MSGID.findall(value or "")
    if not found and value and value.strip() and " " not in value.strip():
        found = [value.strip()]  # some programs omit the brackets
    seen: list[str] = []
    for mid in found:
        if mid not in seen and len(mid) <= 900:
            seen.append(mid)
    return seen


def split_sender(from_header: str) -> tuple[str, str]:
    """(address, display name) of a From header, tolerant of the forms found in the wild."""
    pairs = [(n, a) for n, a in getaddresses([from_header]) if a]
    if pairs:
        name, addr = pairs[0]
    else:
        name, addr = "", ""
    if "@" not in addr or ("<" not in from_header and " " in from_header.strip() and "(" not in from_header):
        match = re.search(r"[\w.+'=-]+@[\w.-]+", from_header)
        if match:
            addr = match.group(0)
            rest = from_header.replace(match.group(0), "")
            name = rest.strip(" <>()\"'")
    without_comments = re.sub(r"\([^()]*\)", "", name).strip()
    if without_comments and '"' not in from_header:
        name = without_comments  # a (comment) is not part of the name, unless it was quoted
    return addr.strip(), re.sub(r"[ \t\r\n]+", " ", name).strip("'\" ")


# -- body and attachments -----------------------------------------------------------------------

def _filename(part: Message) -> str:
    name = None
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name:
        name = decode_header_value(str(name))
    return (name or "").replace("/", "_").replace("\\", "_").replace("\x00", "").strip()[:255]


def _payload(part: Message) -> bytes:
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    raw = part.get_payload()
    if isinstance(raw, str) and cte == "base64":
        return _b64(raw)
    if isinstance(raw, str) and cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        return _uudecode(raw.encode("ascii", "surrogateescape"))
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return data


def part_text(part: Message) -> str:
    return decode_bytes(_payload(part), part.get_content_charset())


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _b64(text: str) -> bytes:
    """Base64 that never fails: a lone trailing character is dropped, as Ruby and most mailers do."""
    clean = re.sub(r"[^A-Za-z0-9+/]", "", text.split("=", 1)[0] if "=" in text.rstrip()[:-2] else text)
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    try:
        return binascii.a2b_base64(clean + "=" * (-len(clean) % 4))
    except binascii.Error:
        return b""


def _uudecode(block: bytes) -> bytes:
    out = bytearray()
    for line in block.splitlines():
        if not line.strip() or line.strip() == b"`" or line.startswith((b"begin ", b"end")):
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad badly; decode the declared length only.
            nbytes = (((line[0] - 32) & 63) * 4 + 5) // 3
            out += binascii.a2b_uu(line[:nbytes])
    return bytes(out)


_BLANK = re.compile(rb"\r?\n\r?\n")


def raw_message_parts(block: bytes, depth: int = 0) -> list[bytes]:
    """The untouched source of every message/* part (forwarded mails, delivery reports), in the
    order the parser meets them: re-serialising the parsed part would refold its headers."""
    if depth > 20:
        return []
    blank = _BLANK.search(block)
    if blank is None:
        return []
    head, body = block[: blank.start()], block[blank.end():]
    try:
        headers = email.parser.BytesHeaderParser(policy=policy.compat32).parsebytes(head + b"\n\n")
    except Exception:
        return []
    ctype = headers.get_content_type()
    if ctype.startswith("message/"):
        if str(headers.get("Content-Transfer-Encoding", "")).strip().lower() == "base64":
            return [_b64(body.decode("ascii", "replace"))]
        return [body]
    boundary = headers.get_param("boundary") if ctype.startswith("multipart/") else None
    if not isinstance(boundary, str) or not boundary:
        return []
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary.encode("utf-8", "surrogateescape"))
                           + rb"(--)?[ \t]*(?:\r?\n|$)")
    found: list[bytes] = []
    pieces = delimiter.split(body)
    # split() yields text, closing-group, text, ...: the first text is the preamble.
    for index in range(2, len(pieces), 2):
        if pieces[index - 1]:  # the closing delimiter: what follows is the epilogue
            break
        found += raw_message_parts(pieces[index], depth + 1)
    return found


def _rfc822_name(inner: Message) -> str:
    subject = header(inner, "Subject")
    return ((subject or "forwarded message")[:200] + ".eml").replace("/", "_")


def _walk(msg: Message, mail: ParsedMail, texts: list[str], htmls: list[str], raws: list[bytes]) -> None:
    count = 0
    raw_parts = iter(raws)
    stack: list[tuple[Message, bool]] = [(msg, False)]  # (part, inside multipart/alternative)
    while stack:
        part, _alt = stack.pop(0)
        count += 1
        if count > MAX_PARTS:
            mail.defects.append("too many MIME parts: the rest is ignored")
            return
        ctype = _content_type(part)
        if part.is_multipart():
            children = part.get_payload()
            if ctype == "message/rfc822" or (ctype.startswith("message/") and part is not msg):
                inner = children[0] if children else None
                source = next(raw_parts, None)
                if ctype == "message/delivery-status":
                    mail.delivery_status.update(_dsn_fields(source or b""))
                    mail.attachments.append(ParsedAttachment(
                        _filename(part) or "delivery-status.txt", ctype, source or b""))
                    continue
                if inner is not None:
                    mail.attachments.append(ParsedAttachment(
                        _filename(part) or _rfc822_name(inner), "message/rfc822",
                        source if source is not None else inner.as_bytes()))
                    if ctype == "message/rfc822" and _content_type(msg) == "multipart/report":
                        mail.bounced_message_ids += message_ids(header(inner, "Message-ID"))
                continue
            if ctype == "multipart/report":
                pass
            stack[0:0] = [(child, ctype == "multipart/alternative") for child in children
                          if isinstance(child, Message)]
            continue
        disposition = _disposition(part)
        filename = _filename(part)
        if ctype.startswith("message/"):
            next(raw_parts, None)  # keep the raw sources aligned with the parts
            if ctype == "message/delivery-status":
                mail.delivery_status.update(_dsn_fields(_payload(part)))
        if ctype in ("text/rfc822-headers", "message/rfc822-headers"):
            mail.bounced_message_ids += message_ids(_headers_value(_payload(part), "message-id"))
        # The first text/plain and the first text/html are the body; a later text part is an
        # attachment (a forwarded document, a part without any Content-Type after a file).
        # Apple Mail splits the text around inline files into several text/plain parts: those
        # are all body. A second HTML part, or a text part that names no type, is a document.
        typed = part is msg or part.get("Content-Type") is not None
        is_body = (ctype in ("text/plain", "text/html") and disposition != "attachment" and typed
                   and (not htmls if ctype == "text/html" else not filename or not texts))
        if is_body:
            text = part_text(part)
            if ctype == "text/html":
                htmls.append(text)
            else:
                text = _extract_uuencoded(text, mail)
                texts.append(text)
            continue
        data = _payload(part)
        cid = (part.get("Content-ID") or "").strip().strip("<>") or None
        mail.attachments.append(ParsedAttachment(
            filename or _default_name(ctype, cid), ctype, data, content_id=cid,
            inline=bool(cid) and disposition != "attachment"))


def _default_name(ctype: str, cid: str | None) -> str:
    ext = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "text/calendar": ".ics",
           "text/plain": ".txt", "text/html": ".html", "application/pdf": ".pdf"}.get(ctype, ".bin")
    base = (cid or "attachment").split("@", 1)[0]
    return re.sub(r"[^\w.-]", "_", base)[:100] + ext


def _extract_uuencoded(text: str, mail: ParsedMail) -> str:
    if "begin " not in text:
        return text
    raw = text.encode("utf-8", "surrogateescape")
    for match in UUENCODE_BLOCK.finditer(raw):
        name = match.group(1).decode("utf-8", "replace").strip()
        mail.attachments.append(ParsedAttachment(name, "application/octet-stream", _uudecode(match.group(2))))
    return UUENCODE_BLOCK.sub(b"", raw).decode("utf-8", "replace")


def _headers_value(data: bytes, name: str) -> str:
    try:
        inner = email.message_from_bytes(data, policy=policy.compat32)
    except Exception:
        return ""
    return inner.get(name, "") or ""


def _dsn_fields(data: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        if ":" in line and not line.startswith((" ", "\t")):
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("action", "status", "final-recipient", "original-recipient", "diagnostic-code",
                       "reporting-mta") and key not in fields:
                fields[key] = value.strip()[:500]
    return fields


def _restore_final_newline(msg: Message, mail: ParsedMail, raw: bytes) -> None:
    """Without a closing boundary the parser eats the last line end of the last part; that
    line end belongs to the content (the boundary that would own it never came)."""
    unclosed = any(type(d).__name__ == "CloseBoundaryNotFoundDefect"
                   for part in msg.walk() for d in part.defects)
    if unclosed and mail.attachments and raw.endswith(b"\n"):
        last = mail.attachments[-1]
        leaves = [p for p in msg.walk() if not p.is_multipart()]
        if leaves and _payload(leaves[-1]) == last.data and not last.data.endswith(b"\n"):
            last.data += b"\r\n" if raw.endswith(b"\r\n") else b"\n"


# -- the entry point ----------------------------------------------------------------------------

_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")


def repair_headers(raw: bytes) -> bytes:
    """Mend a header block that the parser would cut short: junk before the first header and
    continuation lines that lost their indentation (seen from Exchange and PHP mailers)."""
    match = _BLANK.search(raw)
    head, rest = (raw[: match.start()], raw[match.start():]) if match else (raw, b"")
    lines = head.splitlines(keepends=True)
    if all(_HEADER_LINE.match(line) or line[:1] in (b" ", b"\t") for line in lines):
        return raw
    fixed: list[bytes] = []
    for line in lines:
        if _HEADER_LINE.match(line) or (fixed and line[:1] in (b" ", b"\t")):
            fixed.append(line)
        elif fixed:
            fixed.append(b" " + line)  # a continuation that lost its indentation
        # else: junk before the first header ("From " lines, "---- Original message ----")
    return b"".join(fixed) + rest


def _declared_charset(msg: Message) -> str | None:
    """The charset the mail declares for its text, the best guess for raw 8-bit headers; a
    multi-byte (CJK) one wins over a Western one, which would decode anything into mojibake."""
    found = [part.get_content_charset() for part in msg.walk()
             if part.get_content_maintype() == "text" and part.get_content_charset()]
    western = ("cp1252", "latin_1", "iso8859_15", "ascii", "utf_8")
    for charset in found:
        if codec_for(charset) not in western:
            return charset
    return found[0] if found else None


def _sender(msg: Message, fallback: str | None) -> str:
    """The first From that holds an address (some spam carries a junk one first)."""
    values = [str(v)[: MAX_HEADER_CHARS * 2] for k, v in msg.raw_items() if k.lower() == "from"]
    candidates = [decode_header_value(v, fallback, phrase=True)[:MAX_HEADER_CHARS] for v in values]
    for value in candidates:
        if "@" in value:
            return value
    return candidates[0] if candidates else ""


def parse_mail(raw: bytes) -> ParsedMail:
    msg = email.message_from_bytes(repair_headers(raw), policy=policy.default)
    fallback = _declared_charset(msg)

    def h(name: str) -> str:
        return header(msg, name, fallback)

    from_header = _sender(msg, fallback) or h("Sender")
    from_email, from_name = split_sender(from_header)
    if "@" not in from_email:
        # No usable sender address: answer where the mail says replies should go.
        from_email = (split_sender(h("Reply-To"))[0] or split_sender(h("Return-Path"))[0]
                      or from_email)
    try:
        date = parsedate_to_datetime(h("Date")) if h("Date") else None
    except (TypeError, ValueError, IndexError):
        date = None
    mail = ParsedMail(
        message_id=(message_ids(h("Message-ID")) or [None])[0],
        in_reply_to=message_ids(h("In-Reply-To")),
        references=message_ids(h("References")),
        from_header=from_header, from_email=from_email, from_name=from_name,
        to=h("To"), cc=h("Cc"), reply_to=h("Reply-To"),
        subject=h("Subject"), date=date, text="", html=None,
        headers={name: h(name) for name in NOISE_HEADERS if msg.get(name) is not None},
        defects=[type(d).__name__ for d in msg.defects][:20],
    )
    texts: list[str] = []
    htmls: list[str] = []
    _walk(msg, mail, texts, htmls, raw_message_parts(raw))
    _restore_final_newline(msg, mail, raw)
    mail.text = "\n\n".join(t.strip("\r\n") for t in texts if t.strip())
    mail.html = "\n".join(htmls) if htmls else None
    mail.content_type = "text/html" if htmls else "text/plain"
    if not mail.text and mail.html:
        from helpdesk.tickets.email.text import html_to_text

        mail.text = html_to_text(mail.html)
    return mail
