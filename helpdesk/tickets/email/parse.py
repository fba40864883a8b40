"""Raw RFC 822 bytes -> a ParsedMail: stdlib `email` with `policy.default`, plus the fallbacks real
mail needs (unknown or lying charsets, raw 8-bit headers, broken encoded words, uuencode,
message/rfc822 parts, inline cid images). Touches no database."""

from __future__ import annotations

import binascii
import email
import email.parser
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from helpdesk.tickets.email.bounds import MailBounds, check_bodies, check_parts
from helpdesk.tickets.email.charsets import codec_for, decode_bytes
from helpdesk.tickets.email.headers import (
    BLANK_LINE,
    MAX_HEADER_CHARS,
    angle_address,
    decode_header_value,
    header,
    message_ids,
    repair_headers,
    split_sender,
)

MAX_PARTS = 2_000  # the walk's own guard; ingestion refuses more parts before parsing (bounds.py)

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
                 "x-mailer", "x-failed-recipients", "delivered-to",
                 "content-language")  # the language of the sender, for our automatic answers


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




def raw_message_parts(block: bytes, depth: int = 0) -> list[bytes]:
    """The untouched source of every message/* part (forwarded mails, delivery reports), in the
    order the parser meets them: re-serialising the parsed part would refold its headers."""
    if depth > 20:
        return []
    blank = BLANK_LINE.search(block)
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


def _walk(msg: Message, mail: ParsedMail, texts: list[str], htmls: list[str], raws: list[bytes],
          max_parts: int = MAX_PARTS) -> None:
    count = 0
    raw_parts = iter(raws)
    stack: list[tuple[Message, bool]] = [(msg, False)]  # (part, inside multipart/alternative)
    while stack:
        part, _alt = stack.pop(0)
        count += 1
        if count > max_parts:
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


def _sender(msg: Message, fallback: str | None, name: str = "from") -> tuple[str, str, str]:
    """(decoded header, address, display name) of the first From that holds an address (some spam
    carries a junk one first). The address is read from the header as sent, before any encoded
    word is decoded: `=?utf-8?Q?Eve=0D=0ABcc:_victim2@x?= <eve@evil.example>` is Eve's, whatever
    its display name decodes to; the name is decoded on its own and kept on one line."""
    values = [str(v)[: MAX_HEADER_CHARS * 2] for k, v in msg.raw_items() if k.lower() == name]
    for value in values:
        address, _name = split_sender(re.sub(r"\r?\n[ \t]", " ", value))
        if "@" in address:
            decoded = decode_header_value(value, fallback, phrase=True)[:MAX_HEADER_CHARS]
            same, display = split_sender(decoded)
            angle = angle_address(value)
            if angle and same.lower() != address.lower():
                # The decoded name holds another address: take only the words before our address.
                display = decode_header_value(value[: angle.start()], fallback, phrase=True)
            display = re.sub(r"[\x00-\x1f\x7f]+", " ", display).strip("'\" ")
            return decoded, address, " ".join(display.split())[:MAX_HEADER_CHARS]
    decoded = decode_header_value(values[0], fallback, phrase=True)[:MAX_HEADER_CHARS] if values else ""
    address, display = split_sender(decoded)
    return decoded, address, display


def parse_mail(raw: bytes, bounds: MailBounds | None = None) -> ParsedMail:
    """With `bounds`, raises bounds.OverLimit before the parser or the HTML-to-text step would
    walk a mail over them."""
    if bounds is not None:
        check_parts(raw, bounds)
    msg = email.message_from_bytes(repair_headers(raw), policy=policy.default)
    fallback = _declared_charset(msg)

    def h(name: str) -> str:
        return header(msg, name, fallback)

    from_header, from_email, from_name = _sender(msg, fallback)
    if not from_header:
        from_header, from_email, from_name = _sender(msg, fallback, "sender")
    if "@" not in from_email:
        # No usable sender address: answer where the mail says replies should go.
        from_email = (_sender(msg, fallback, "reply-to")[1] or _sender(msg, fallback, "return-path")[1]
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
    _walk(msg, mail, texts, htmls, raw_message_parts(raw), bounds.max_parts if bounds else MAX_PARTS)
    _restore_final_newline(msg, mail, raw)
    mail.text = "\n\n".join(t.strip("\r\n") for t in texts if t.strip())
    mail.html = "\n".join(htmls) if htmls else None
    mail.content_type = "text/html" if htmls else "text/plain"
    if bounds is not None:
        check_bodies(mail.text, mail.html, bounds)
    if not mail.text and mail.html:
        from helpdesk.tickets.email.text import html_to_text

        mail.text = html_to_text(mail.html)
    return mail
