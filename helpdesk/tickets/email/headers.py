"""Header text from the wild: raw 8-bit bytes, glued or quoted RFC 2047 words, lost folding."""

from __future__ import annotations

import binascii
import re
from email.message import EmailMessage, Message
from email.utils import getaddresses

from helpdesk.tickets.email.charsets import decode_8bit, decode_bytes

MAX_HEADER_CHARS = 8_000  # longer headers are cut: a 100k-char header is an attack, not a subject
ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?]*?)\?=")
_BETWEEN_WORDS = re.compile(r"(=\?[^?\s]+\?[QqBb]\?[^?]*?\?=)\s+(?==\?[^?\s]+\?[QqBb]\?[^?]*?\?=)")
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
        value = decode_8bit(value.encode("utf-8", "surrogateescape"), fallback)
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


ANGLE_ADDR = re.compile(r"<\s*([^<>\s@\"]+@[^<>\s@\"]+?)\s*>")
_QUOTED_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|\((?:[^()\\]|\\.)*\)')


def angle_address(value: str) -> re.Match[str] | None:
    """The first <local@domain> outside quoted strings and comments (`"Eve <v@x>" <eve@y>` is eve's)."""
    blanked = _QUOTED_OR_COMMENT.sub(lambda m: " " * len(m.group()), value)
    match = ANGLE_ADDR.search(blanked)
    return ANGLE_ADDR.match(value, match.start()) if match else None


def split_sender(from_header: str) -> tuple[str, str]:
    """(address, display name) of a From header, tolerant of the forms found in the wild.

    When there is an angle-address, the address is that and nothing else: a display name that
    looks like an address (`ann@example.com <attacker@evil.example>`) names nobody."""
    addr, name = _split_tolerant(from_header)
    angle = angle_address(from_header)
    if angle and angle.group(1).strip().lower() != addr.lower():
        name = from_header[: angle.start()]
        name = re.sub(r"\([^()]*\)", "", name).strip() if '"' not in name else name
        return angle.group(1).strip(), re.sub(r"\s+", " ", name).strip("'\" ")
    return addr, name


def _split_tolerant(from_header: str) -> tuple[str, str]:
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


BLANK_LINE = re.compile(rb"\r?\n\r?\n")


_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")


def repair_headers(raw: bytes) -> bytes:
    """Mend a header block that the parser would cut short: junk before the first header and
    continuation lines that lost their indentation (seen from Exchange and PHP mailers)."""
    match = BLANK_LINE.search(raw)
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
