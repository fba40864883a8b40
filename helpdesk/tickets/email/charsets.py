"""Bytes to text when mail lies about its charset, or names none, or names one Python lacks."""

from __future__ import annotations

import codecs
import re

# Names mail programs use that Python's codecs do not know, or that lie about a superset.
CHARSET_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8", "x-mac-roman": "mac_roman", "unicode-1-1-utf-7": "utf-7",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
    "x-unknown": "cp1252", "unknown-8bit": "cp1252", "windows-1252": "cp1252", "ansi_x3.4-1968": "cp1252",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "iso-2022-jp": "iso2022_jp_ext",
    "euc-kr": "cp949", "big5": "big5hkscs", "tis-620": "cp874",
}

def codec_for(charset: str | None) -> str | None:
    name = (charset or "").strip().strip('"').lower()
    if not name:
        return None
    name = CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_8bit(data: bytes, charset: str | None) -> str:
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


UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _utf8_with_stray_bytes(data: bytes) -> str | None:
    """UTF-8 text with a few bytes that are not UTF-8 (a Latin-1 word pasted in, a mangled
    byte): the valid sequences stay UTF-8 and only the stray bytes are read as Windows-1252.
    A wholesale guess would turn every correct character into mojibake instead. Only when the
    valid multi-byte sequences outnumber the stray bytes: otherwise it is not UTF-8 at all."""
    valid = len(UTF8_SEQUENCE.findall(data))
    if not valid:
        return None
    stray = sum(1 for b in UTF8_SEQUENCE.sub(b"", data) if b > 0x7F)
    if stray > valid:
        return None
    return data.decode("utf-8", errors="stray_cp1252")


def _stray_cp1252(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    stray = error.object[error.start:error.end]
    # The five bytes Windows-1252 leaves undefined are C1 controls in Latin-1.
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in stray), error.end


codecs.register_error("stray_cp1252", _stray_cp1252)


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
    mixed = _utf8_with_stray_bytes(data)
    if mixed is not None:
        return mixed
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
