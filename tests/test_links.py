"""Safe links in message text: http, https and mailto become links that open in a new tab with
rel="noopener noreferrer nofollow"; anything else stays escaped text. The Python side renders the
console's thread; the JavaScript side (run here under node) the widget and live messages."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpdesk.tickets.links import linkify

LINKIFY_JS = Path(__file__).resolve().parents[1] / "helpdesk" / "static" / "widget" / "linkify.js"
REL = 'target="_blank" rel="noopener noreferrer nofollow"'

# text -> the hrefs that must come out of it, in order
CASES = {
    "Track it at https://shop.example/t?id=1&x=2.": ["https://shop.example/t?id=1&x=2"],
    "(see http://en.example/wiki/Foo_(bar))": ["http://en.example/wiki/Foo_(bar)"],
    "write to mailto:help@shop.example, thanks": ["mailto:help@shop.example"],
    "two: https://a.example/1 and https://b.example/2!": ["https://a.example/1", "https://b.example/2"],
    "javascript:alert(document.cookie)": [],
    "JaVaScRiPt:alert(1) //https:": [],
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==": [],
    "vbscript:msgbox(1) file:///etc/passwd ftp://x.example": [],
    "xhttps://evil.example glued to a word": [],
    'https://ok.example/"onmouseover="alert(1)': ["https://ok.example/"],
    "https://ok.example/<script>alert(1)</script>": ["https://ok.example/"],
    "<img src=x onerror=alert(1)> https://x.example": ["https://x.example"],
    "https://": [],
}


@pytest.mark.parametrize("text", list(CASES))
def test_python_links_only_safe_schemes_and_escapes_everything_else(text: str) -> None:
    out = str(linkify(text))
    hrefs = [part.split('"', 1)[0] for part in out.split('<a href="')[1:]]
    assert [h.replace("&amp;", "&") for h in hrefs] == CASES[text]
    assert out.count("<a ") == len(CASES[text]) == out.count(REL)
    # Nothing of the text becomes markup: with the links taken out, no tag or attribute is left.
    bare = out
    for href in hrefs:
        bare = bare.replace(f'<a href="{href}" {REL}>{href}</a>', "")
    assert "<" not in bare and ">" not in bare and '"' not in bare


def test_python_linkify_keeps_line_breaks_and_plain_text_alone() -> None:
    assert str(linkify("line one\nline two & <b>")) == "line one\nline two &amp; &lt;b&gt;"
    assert str(linkify(None)) == ""


def test_javascript_links_the_same_urls_as_python_and_only_builds_text_and_anchors() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    # A tiny DOM stand-in: fill() may only create text nodes and <a> elements.
    script = f"""
    const L = require({json.dumps(str(LINKIFY_JS))});
    const made = [];
    const doc = {{
      createTextNode: (t) => ({{ kind: "text", t }}),
      createElement: (tag) => {{ made.push(tag); return {{ kind: tag }}; }},
    }};
    const out = {{}};
    for (const text of {json.dumps(list(CASES))}) {{
      const node = {{ ownerDocument: doc, children: [], set textContent(v) {{}},
                     appendChild(c) {{ this.children.push(c); }} }};
      L.fill(node, text);
      out[text] = {{
        hrefs: node.children.filter((c) => c.kind === "a").map((a) => a.href),
        rel: node.children.filter((c) => c.kind === "a")
          .every((a) => a.rel === "noopener noreferrer nofollow" && a.target === "_blank"),
        text: node.children.map((c) => c.kind === "text" ? c.t : c.textContent).join(""),
      }};
    }}
    console.log(JSON.stringify({{ out, made: [...new Set(made)] }}));
    """
    result = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True,
                                       timeout=20).stdout)
    assert set(result["made"]) <= {"a"}
    for text, want in CASES.items():
        got = result["out"][text]
        assert got["hrefs"] == want, text
        assert got["rel"] and got["text"] == text  # every character is kept, as text or link text
