"""Limits checked before the expensive work: the stdlib parser walks every MIME part, nh3, lxml
and the quote folder walk every byte of the text and HTML. A mail over a limit is quarantined
(kept, `failed` with the reason, re-processable once the limit is raised), never half-parsed.
Touches no database."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_PARTS = 2_000
DEFAULT_MAX_TEXT_CHARS = 1_000_000
DEFAULT_MAX_HTML_BYTES = 2 * 1024 * 1024

# A boundary parameter anywhere in the mail (also in nested parts and folded headers). A match in
# a body's text only adds a boundary that no delimiter line uses: the count stays right.
_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.I)
_DELIMITER = re.compile(rb"^--([^\r\n]{1,202})", re.M)


@dataclass(frozen=True)
class MailBounds:
    max_parts: int = DEFAULT_MAX_PARTS
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    max_html_bytes: int = DEFAULT_MAX_HTML_BYTES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailBounds:
        return cls(max_parts=int(config.get("EMAIL_MAX_PARTS") or DEFAULT_MAX_PARTS),
                   max_text_chars=int(config.get("EMAIL_MAX_TEXT_CHARS") or DEFAULT_MAX_TEXT_CHARS),
                   max_html_bytes=int(config.get("EMAIL_MAX_HTML_BYTES") or DEFAULT_MAX_HTML_BYTES))


class OverLimit(Exception):
    """A mail over one of the bounds: `reason` is a short code, the message says it to a person."""

    def __init__(self, reason: str, message: str, setting: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.setting = setting

    @property
    def hint(self) -> str:
        return f"re-processing fails again unless HELPDESK_{self.setting} is raised"


def count_mime_parts(raw: bytes) -> int:
    """The number of MIME parts, counted from the delimiter lines without parsing anything: the
    whole mail, plus one per opening delimiter of a declared boundary. Linear in the size."""
    boundaries = {m.group(1) or m.group(2) for m in _BOUNDARY.finditer(raw)}
    if not boundaries:
        return 1
    count = 1
    for match in _DELIMITER.finditer(raw):
        token = match.group(1).rstrip(b" \t")
        if token in boundaries:
            count += 1
        # else: a closing delimiter (boundary + "--") or a line that only looks like one
    return count


def check_parts(raw: bytes, bounds: MailBounds) -> None:
    parts = count_mime_parts(raw)
    if parts > bounds.max_parts:
        raise OverLimit("too_many_parts", f"too many MIME parts ({parts:,} > {bounds.max_parts:,})",
                        "EMAIL_MAX_PARTS")


def check_bodies(text: str, html: str | None, bounds: MailBounds) -> None:
    if len(text) > bounds.max_text_chars:
        raise OverLimit("text_too_long",
                        f"text body too long ({len(text):,} > {bounds.max_text_chars:,} characters)",
                        "EMAIL_MAX_TEXT_CHARS")
    if html is not None:
        size = len(html.encode("utf-8", "surrogatepass"))
        if size > bounds.max_html_bytes:
            raise OverLimit("html_too_large",
                            f"HTML body too large ({size:,} > {bounds.max_html_bytes:,} bytes)",
                            "EMAIL_MAX_HTML_BYTES")
