"""Showing a customer's mail to an agent: HTML sanitised with nh3 (allow-list), remote images
blocked until asked, inline cid: images served from their attachments, and the quoted history
folded away with the full original one click away. Touches no database."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import lxml.html
import nh3
from lxml import etree

from helpdesk.tickets.email.text import html_to_text
from helpdesk.tickets.links import linkify

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup", "dd", "del", "div",
    "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol",
    "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "tt", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "*": {"align", "dir", "lang", "title", "class", "id", "type"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "valign", "width"},
    "th": {"colspan", "rowspan", "valign", "width"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "width"},
    "blockquote": {"cite"},
    "ol": {"start"},
}
# A 1x1 transparent GIF: the layout stays put while the remote image is blocked.
# What the console shows: the stored allow-list minus class and id (kept in storage only so the
# quote splitter can find gmail_quote, divRplyFwdMsg, ...).
DISPLAY_ATTRIBUTES = {tag: set(names) - {"class", "id"} for tag, names in ALLOWED_ATTRIBUTES.items()}
DISPLAY_ATTRIBUTES["img"] = {"src", "alt", "width", "height"}
# Tags whose content goes with them: nh3 keeps the text of a tag it strips, which would put the
# HTML <title> (the document's name, never shown by mail readers) at the top of the body.
CONTENT_DROPPED = {"script", "style", "title"}
BLOCKED_PIXEL = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


def sanitize_html(markup: str) -> str:
    """The allow-list: no scripts, styles, forms, event handlers or javascript: URLs survive."""
    return nh3.clean(markup, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto", "cid"},
                     link_rel="noopener noreferrer nofollow", strip_comments=True,
                     clean_content_tags=CONTENT_DROPPED, attribute_filter=_only_images_use_cid)


def _only_images_use_cid(tag: str, attribute: str, value: str) -> str | None:
    # cid: names an attachment of the same mail: meaningful as an image source, never as a link.
    # (data: is not allowed at all: a data:text/html link opens a page the sender wrote.)
    if value.strip().lower().startswith("cid:") and not (tag == "img" and attribute == "src"):
        return None
    return value


# -- quoted history -----------------------------------------------------------------------------

# Where mail programs start the quoted original: Gmail, Thunderbird, Apple Mail, Outlook (the
# several generations), Yahoo, mail.ru/Yandex, Windows Mail; the last one is a bare <hr>.
QUOTE_XPATHS = (
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' gmail_quote ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' gmail_extra ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' moz-cite-prefix ')]",
    "//*[@id='divRplyFwdMsg']", "//*[@id='OLK_SRC_BODY_SECTION']", "//*[@id='appendonsend']",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' yahoo_quoted ')]",
    "//blockquote[@type='cite']",
    "//div[contains(@style, 'border-top:solid #B5C4DF') or contains(@style, 'border-top: solid #B5C4DF')"
    " or contains(@style, 'border-top:solid #E1E1E1') or contains(@style, 'border-top: solid #E1E1E1')]",
    "//blockquote",
    "//hr",
)
WROTE = re.compile(r"^[\s>*-]*(On|Am|Le|El|Il|Op|W dniu)\b.*\b(wrote|schrieb|écrit|escribió|scritto|schreef|"
                   r"napisał)\b.*:\s*$", re.I)
FROM_LINE = re.compile(r"^[\s*]*(From|Von|De|От|Van|Da|Fra)\s*:", re.I)
FIELD_LINE = re.compile(r"^[\s*]*(Sent|Date|Subject|To|Cc|Gesendet|Datum|Betreff|An|Envoyé|Objet|Отправлено|"
                        r"Дата|Тема|Кому)\s*:", re.I)
SEPARATOR = re.compile(r"^\s*(-{2,}\s*(Original Message|Ursprüngliche Nachricht|Forwarded message|"
                       r"Message d'origine|Исходное сообщение)\s*-{2,}|_{10,})\s*$", re.I)
INLINE_FIELD = re.compile(r"\s(Sent|Date|Gesendet|Datum|Envoyé|Отправлено)\s*:", re.I)
DATED_INTRO = re.compile(r"(\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\b\d{4}\b).*(@|\bwrote\b|написал|пишет|:$)|@.*:$")


# A quote header is one short line; the patterns below backtrack, so a longer line (a minified
# blob, a 1 MB line without breaks) is never tried: matching stays linear in the text.
MAX_HEADER_LINE = 1000


def header_start(lines: list[str], i: int, *, tail: bool = False) -> bool:
    """Does line i open the header of a quoted original? `tail`: nothing but quotes follows.
    Costs O(1) per line plus the blank lines up to the next text line, so a scan of every line
    is linear (it once rebuilt the rest of the mail for each candidate: quadratic)."""
    line = lines[i].strip()
    if not line or len(line) > MAX_HEADER_LINE:
        return False
    nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
    if len(nxt) > MAX_HEADER_LINE:
        nxt = ""
    if SEPARATOR.match(line) or WROTE.match(line) or WROTE.match(f"{line} {nxt}"):
        return True
    window = lines[i + 1: i + 5]
    if FROM_LINE.match(line) and (INLINE_FIELD.search(line) or any(FIELD_LINE.match(w) for w in window)):
        return True
    if FIELD_LINE.match(line) and re.match(r"^[\s*]*(Date|Sent|Datum|Gesendet)\s*:", line, re.I) and any(
            FROM_LINE.match(w) or FIELD_LINE.match(w) for w in window):
        return True
    if not re.search(r"\d|@", line):
        return False
    joined = f"{line} {nxt}" if not line.endswith(":") else line
    if joined.endswith(":") and DATED_INTRO.search(joined):
        following = _next_text_line(lines, i + 1 + (joined != line))
        if following is None:
            return tail
        return following.lstrip().startswith(">")
    return False


def _next_text_line(lines: list[str], start: int) -> str | None:
    """The first line from `start` on that is not blank, or None."""
    for index in range(start, len(lines)):
        if lines[index].strip():
            return lines[index]
    return None


def split_text_quote(text: str) -> tuple[str, str]:
    """(reply, quoted history) of a plain-text mail, top- or bottom-posted."""
    lines = text.split("\n")
    start = None
    for i, line in enumerate(lines):
        if line.lstrip().startswith(">") or header_start(lines, i):
            start = i
            break
    if start is None:
        return text.rstrip(), ""
    if any(line.strip() for line in lines[:start]):
        return "\n".join(lines[:start]).rstrip(), "\n".join(lines[start:]).strip("\n")
    # Bottom-posted: the header and the quoted block come first, the reply after them.
    end = start + 1
    while end < len(lines) and (lines[end].lstrip().startswith(">") or not lines[end].strip()):
        end += 1
    return "\n".join(lines[end:]).strip("\n").rstrip(), "\n".join(lines[:end]).strip("\n")


_PARSER = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)


def split_html_quote(markup: str) -> tuple[str, str]:
    """(reply, quoted history) of an HTML mail, both as HTML; no quote found: (markup, "")."""
    try:
        doc = lxml.html.document_fromstring(markup.encode("utf-8", "replace"), parser=_PARSER)
    except (etree.ParserError, ValueError):
        return markup, ""
    body = doc.find("body") if doc.find("body") is not None else doc
    for xpath in QUOTE_XPATHS:
        found = doc.xpath(xpath)
        if not found:
            continue
        start = found[0]
        if start.tag == "hr" and start.getparent() is not None and start.getparent() is not body:
            start = start.getparent()  # the block holding the rule is the quote's wrapper
        quoted: list[etree._Element] = []
        # Everything from the start of the quote to the end of the document goes, in order.
        node = start
        while node is not None and node is not body:
            sibling = node.getnext()
            while sibling is not None:
                quoted.append(sibling)
                sibling = sibling.getnext()
            node = node.getparent()
        quoted.insert(0, start)
        before = _text_of_copy_without(doc, quoted)
        if not before.strip():
            continue  # the "quote" is the whole mail: show it all
        quoted_html = "".join(etree.tostring(q, encoding="unicode", method="html") for q in quoted)
        for q in quoted:
            parent = q.getparent()
            if parent is not None:
                _drop_keep_tail(q)
        quoted_html = _cut_header_tail(doc, body) + quoted_html
        return etree.tostring(doc, encoding="unicode", method="html"), quoted_html
    body_el = body
    tail_cut = _cut_header_tail(doc, body_el)
    if tail_cut:
        return etree.tostring(doc, encoding="unicode", method="html"), tail_cut
    return markup, ""


def _text_of_copy_without(doc: etree._Element, nodes: list[etree._Element]) -> str:
    # lxml hands out the same proxy for an element while one is alive (`nodes` holds them), so
    # id() identifies them. The walk skips excluded subtrees instead of asking every element for
    # its ancestors, which was quadratic in the nesting depth.
    ids = {id(n) for n in nodes}
    parts: list[str] = []
    stack = [doc]
    while stack:
        el = stack.pop()
        if id(el) in ids:
            continue
        if el.tag not in ("style", "script", "head", "title") and el.text:
            parts.append(el.text)
        stack.extend(reversed(el))
    return "".join(parts)


def _drop_keep_tail(node: etree._Element) -> None:
    parent = node.getparent()
    if parent is None:
        return
    parent.remove(node)


def _cut_header_tail(doc: etree._Element, body: etree._Element, *, tail: bool = True) -> str:
    """After the quote is gone, its introduction ("On ... wrote:", a From:/Sent: block) may be
    left at the end of the reply: cut it too, and return it as HTML for the folded part."""
    lines = [line for line in html_to_text(etree.tostring(body, encoding="unicode", method="html"))
             .split("\n")]
    start = None
    seen_text = False  # a header only counts after some reply text (kept as a flag: linear)
    for i, line in enumerate(lines):
        if seen_text and header_start(lines, i, tail=True):
            start = i
            break
        seen_text = seen_text or bool(line.strip())
    if start is None:
        return ""
    probe = " ".join(lines[start].split())[:25]
    for el in body.iter():
        for where in ("text", "tail"):
            own = " ".join((getattr(el, where) or "").split())
            if not own or not (probe.startswith(own[:25]) or own.startswith(probe)):
                continue
            if where == "text":
                # Climb while the element is alone in its parent, so whole blocks go.
                while el.getparent() is not None and el.getparent() is not body \
                        and len(el.getparent()) == 1 and not (el.getparent().text or "").strip():
                    el = el.getparent()
                removed = [el, *_following(el, body)]
                cut = "".join(etree.tostring(r, encoding="unicode", method="html") for r in removed)
            else:
                removed = _following(el, body)
                cut = html.escape(el.tail or "") + "".join(
                    etree.tostring(r, encoding="unicode", method="html") for r in removed)
                el.tail = None
            for r in removed:
                _drop_keep_tail(r)
            return cut
    return ""


def _following(node: etree._Element, stop: etree._Element) -> list[etree._Element]:
    """Every element after `node` in document order, up to the end of `stop`."""
    found: list[etree._Element] = []
    while node is not None and node is not stop:
        sibling = node.getnext()
        while sibling is not None:
            found.append(sibling)
            sibling = sibling.getnext()
        node = node.getparent()
    return found


# -- rendering ----------------------------------------------------------------------------------

@dataclass
class Rendered:
    html: str           # safe to mark up: sanitised
    quoted: str         # safe, possibly empty: the folded history
    blocked_images: int


def render_html(markup: str, cid_urls: Mapping[str, str], *, load_remote: bool) -> Rendered:
    """Fold the quoted history, then sanitise each part for display: no class or id (the mail
    must not borrow the console's styles), cid: images pointed at their attachments, remote
    images replaced by a blank pixel unless the agent asked for them. Images are rewritten by
    nh3's attribute filter, on the parsed tree, so no markup trick can hide a src from it."""
    reply, quoted = split_html_quote(markup)
    blocked = 0

    def attribute(tag: str, name: str, value: str) -> str | None:
        nonlocal blocked
        if tag != "img" or name != "src":
            return value
        src = value.strip()
        if src.lower().startswith("cid:"):
            return cid_urls.get(src[4:].strip("<>")) or BLOCKED_PIXEL
        if src.lower().startswith("data:image/"):
            return src
        if src.lower().startswith(("http:", "https:", "//")):
            if load_remote:
                return src
            blocked += 1
            return BLOCKED_PIXEL
        return None

    def clean(part: str) -> str:
        return nh3.clean(part, tags=ALLOWED_TAGS, attributes=DISPLAY_ATTRIBUTES,
                         url_schemes={"http", "https", "mailto", "cid", "data", "tel"},
                         link_rel="noopener noreferrer nofollow", strip_comments=True,
                         set_tag_attribute_values={"a": {"target": "_blank"}},  # never in the console's tab
                         clean_content_tags=CONTENT_DROPPED, attribute_filter=attribute)

    shown = clean(reply)
    folded = clean(quoted) if quoted else ""
    return Rendered(shown, folded, blocked)


def render_text(text: str) -> Rendered:
    reply, quoted = split_text_quote(text)
    return Rendered(_text_html(reply), _text_html(quoted) if quoted else "", 0)


def plain_text_html(text: str) -> str:
    """Escaped text with line breaks, no folding: cheap enough for a web request (linear)."""
    return html.escape(text).replace("\n", "<br>\n")


def _text_html(text: str) -> str:
    # The same safe links as every other message text (http, https, mailto; new tab; no referrer).
    return str(linkify(text)).replace("\n", "<br>\n")


def render_message(body_text: str, body_html: str | None, attachments: list[object],
                   url_for_attachment: Callable[[str], str], *, load_remote: bool) -> Rendered:
    cid_urls = {a.content_id: url_for_attachment(a.public_id)  # type: ignore[attr-defined]
                for a in attachments if getattr(a, "content_id", None)}
    if body_html:
        return render_html(body_html, cid_urls, load_remote=load_remote)
    return render_text(body_text)


# -- computed once, stored ----------------------------------------------------------------------

# Raise when the rendering changes so stored displays can be recomputed (see stored.py).
DISPLAY_VERSION = 2  # 2: links open in a new tab; mailto: links in plain text


def attachment_url(public_id: str) -> str:
    """The console's inline URL of an attachment (the `email_admin.attachment` route): built
    without a request, since displays are computed in the worker."""
    return f"/attachments/{public_id}?inline=1"


@dataclass
class Prepared:
    html: str
    quoted: str
    blocked_images: int
    html_remote: str | None
    quoted_remote: str | None


def prepare(body_text: str, body_html: str | None, attachments: list[object]) -> Prepared:
    """Both variants the console may show (remote images blocked, and loaded on request)."""
    blocked = render_message(body_text, body_html, attachments, attachment_url, load_remote=False)
    remote = None
    if blocked.blocked_images:
        remote = render_message(body_text, body_html, attachments, attachment_url, load_remote=True)
    return Prepared(blocked.html, blocked.quoted, blocked.blocked_images,
                    remote.html if remote else None, remote.quoted if remote else None)
