"""Links in message text: http, https and mailto URLs become links that open in a new tab and
give the target nothing (rel noopener noreferrer nofollow); everything else stays escaped text,
so `javascript:` and `data:` never become a link. The widget and the live console do the same in
JavaScript (static/widget/linkify.js)."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# The scheme is part of the match, at a word boundary: only these three can ever be a link.
URL = re.compile(r"\b(?:https?://[^\s<>\"'`]+|mailto:[^\s<>\"'`/]+@[^\s<>\"'`]+)", re.IGNORECASE)
TRAILING = ".,;:!?'\"*_"
REL = "noopener noreferrer nofollow"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def trim(url: str) -> str:
    """Drop punctuation that ends a sentence rather than the URL: "(see https://x.example/a)."."""
    while url:
        last = url[-1]
        unbalanced = last in _CLOSERS and url.count(last) > url.count(_CLOSERS[last])
        if last not in TRAILING and not unbalanced:
            break
        url = url[:-1]
    return url


def linkify(text: str | None) -> Markup:
    text = text or ""
    out: list[str] = []
    pos = 0
    for match in URL.finditer(text):
        url = trim(match.group(0))
        if len(url) <= len("https://") and not url.lower().startswith("mailto:"):
            continue
        out.append(str(escape(text[pos:match.start()])))
        out.append(str(Markup('<a href="{0}" target="_blank" rel="{1}">{0}</a>').format(url, REL)))
        pos = match.start() + len(url)
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))
