"""Which files a message may carry, for shoppers (widget) and agents (console, REST) alike: the
type by the file's own first bytes, a per-file size, a count per message."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable

from helpdesk.errors import Invalid
from helpdesk.tickets.models import Attachment

MAX_PER_MESSAGE = 5
# By the file's own first bytes where it has a signature: the type the browser claims is not
# trusted, since these files are served back to agents and shoppers.
IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
DOCUMENTS = {".pdf": ("application/pdf", b"%PDF-"), ".txt": ("text/plain", None), ".csv": ("text/csv", None)}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
PREVIEWABLE = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def sniff(filename: str, data: bytes) -> str:
    """The content type we will store, or Invalid when the file is not one we accept."""
    for magic, content_type in IMAGE_MAGIC.items():
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    ext = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext in DOCUMENTS:
        content_type, magic = DOCUMENTS[ext]
        if magic is None or data.startswith(magic):
            if magic is None and b"\x00" in data[:4096]:
                raise Invalid("file", "a text file must be text", code="file_type")
            return content_type
    raise Invalid("file", "images (PNG, JPEG, GIF, WebP), PDF, TXT or CSV only", code="file_type")


def clean_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?').strip(" .")
    return name[:255] or "file"


def checked_attachment(filename: str, data: bytes, *, max_bytes: int) -> Attachment:
    """One file checked by the shoppers' rules, as an Attachment not yet in any session."""
    if not data:
        raise Invalid("file", "the file is empty", code="file_empty")
    if len(data) > max_bytes:
        size = f"{max_bytes // (1024 * 1024)} MB" if max_bytes >= 1024 * 1024 else f"{max_bytes} bytes"
        raise Invalid("file", f"{clean_filename(filename)} is larger than {size}", code="file_too_big")
    filename = clean_filename(filename)
    try:
        content_type = sniff(filename, data)
    except Invalid as exc:
        raise Invalid("file", f"{filename}: {exc.message.split(': ', 1)[-1]}", code=exc.code) from None
    return Attachment(filename=filename, content_type=content_type, size=len(data),
                      sha256=hashlib.sha256(data).hexdigest(), data=data)


def checked_files(files: Iterable[tuple[str, bytes]], *, max_bytes: int) -> list[Attachment]:
    """An agent's files for one message: all acceptable, or Invalid and none of them."""
    files = list(files)
    if len(files) > MAX_PER_MESSAGE:
        raise Invalid("files", f"at most {MAX_PER_MESSAGE} files per message", code="too_many_files")
    return [checked_attachment(name, data, max_bytes=max_bytes) for name, data in files]
