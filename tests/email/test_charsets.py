"""Body text from bytes whose charset label lies, is unknown, or covers only part of the text."""

from __future__ import annotations

from helpdesk.tickets.email.charsets import decode_bytes


def test_utf8_text_with_a_stray_latin1_byte_keeps_its_utf8_and_reads_the_stray_byte_as_western() -> None:
    data = "Это сообщение, Grüße".encode() + b" and na\xefve"
    assert decode_bytes(data, "utf-8") == "Это сообщение, Grüße and naïve"


def test_unknown_charset_on_mixed_utf8_and_latin1_reads_each_run_in_its_own_encoding() -> None:
    data = "äöü - 差出人".encode() + " - äöü - hi".encode("latin-1")
    assert decode_bytes(data, "iso-gb2312") == "äöü - 差出人 - äöü - hi"


def test_plain_latin1_text_is_not_mistaken_for_utf8() -> None:
    text = "Grüße aus Köln, à bientôt. "
    assert decode_bytes(text.encode("latin-1"), None) == text
    assert decode_bytes((text * 10).encode("latin-1"), "iso-8859-1") == text * 10


def test_windows_1258_is_decoded_with_its_own_codepage() -> None:
    assert decode_bytes("suite à ma commande du 14 août".encode("cp1258"), "windows-1258") == (
        "suite à ma commande du 14 août")
