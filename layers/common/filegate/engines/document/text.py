"""Text inputs made ready for LibreOffice (pure): decoded to UTF-8, Markdown rendered to HTML (markdown-it-py,
CommonMark, raw HTML in the Markdown escaped), and HTML defused: only the elements and attributes of a
single, static page are kept (no script, style sheet, frame, form, object or remote picture; links stay
links; pictures only when inline ``data:``), so nothing in it can run or make LibreOffice fetch anything.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

from filegate.errors import ConversionFailed
from filegate.formats.docsniff import decode_text

_KEPT_ELEMENTS = frozenset(
    {
        *("a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "blockquote", "body", "br", "caption"),
        *("center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em"),
        *("figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html"),
        *("i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q", "s", "samp", "section"),
        *("small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead"),
        *("time", "title", "tr", "u", "ul", "var"),
    }
)
# Elements dropped with everything inside them (what they hold is code, or another page).
_DROPPED_WITH_CONTENT = frozenset(
    {
        *("script", "style", "iframe", "frame", "frameset", "noframes", "object", "embed", "applet", "template"),
        *("svg", "math", "noscript", "select", "textarea", "button", "audio", "video", "canvas"),
    }
)
_VOID = frozenset({"br", "hr", "img", "col"})
# Elements that never have an end tag: never waited for inside a dropped element.
_HTML_VOID = _VOID | {"area", "base", "embed", "input", "link", "meta", "param", "source", "track", "wbr"}
_KEPT_ATTRIBUTES = frozenset(
    {"href", "src", "alt", "title", "colspan", "rowspan", "align", "valign", "lang", "dir", "width", "height",
     "style", "start", "type", "id", "name"}
)  # fmt: skip
_SAFE_LINK = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)
_INLINE_PICTURE = re.compile(r"^data:image/(png|jpe?g|gif|webp|bmp);base64,", re.IGNORECASE)
# A style that reaches outside (url(), @import, behaviours, expressions) is dropped whole.
_UNSAFE_STYLE = re.compile(r"url\s*\(|@import|expression\s*\(|behavior|-moz-binding|\\", re.IGNORECASE)


def decoded(data: bytes) -> str:
    text = decode_text(data)
    if text is None:
        raise ConversionFailed("The text could not be read: it is neither UTF-8, UTF-16 nor its declared charset.")
    return text


def markdown_to_html(markdown: str) -> str:
    """A CommonMark document as a defused HTML page (raw HTML in the Markdown is shown, not interpreted)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return defused_html(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>')


def defused_html(html: str) -> str:
    """`html` with only a static page's elements and attributes left (module docstring)."""
    cleaner = _Cleaner()
    cleaner.feed(html)
    cleaner.close()
    return '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>' + "".join(cleaner.out) + "</body></html>"


class _Cleaner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping: list[str] = []  # the dropped elements we are inside
        self.in_head = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping or tag in _DROPPED_WITH_CONTENT:
            if tag not in _HTML_VOID:
                self.skipping.append(tag)
            return
        if tag in ("html", "head", "body", "title") or tag not in _KEPT_ELEMENTS:
            self.in_head = self.in_head or tag == "head"
            return
        kept = [(name, value) for name, value in attrs if _kept_attribute(tag, name, value or "")]
        if tag == "img" and not any(name == "src" for name, _ in kept):
            return  # a linked picture is left out (docs/api.md "Documents")
        rendered = "".join(f' {name}="{escape(value or "", quote=True)}"' for name, value in kept)
        self.out.append(f"<{tag}{rendered}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in self.skipping[-1:]:
            self.skipping.pop()

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            # An end tag closes the innermost open element of its name and those left open inside it
            # (`<option>`s, `<li>`s), as a browser does: the page after it is kept.
            if tag in self.skipping:
                del self.skipping[len(self.skipping) - 1 - self.skipping[::-1].index(tag) :]
            return
        if tag == "head":
            self.in_head = False
        if tag in _KEPT_ELEMENTS and tag not in _VOID and tag not in ("html", "head", "body", "title"):
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.skipping and not self.in_head:
            self.out.append(escape(data, quote=False))


def _kept_attribute(tag: str, name: str, value: str) -> bool:
    if name not in _KEPT_ATTRIBUTES:
        return False  # event handlers (on…), background, srcset, formaction, …
    if name == "href":
        return tag == "a" and bool(_SAFE_LINK.match(value.strip()))
    if name == "src":
        return tag == "img" and bool(_INLINE_PICTURE.match(value.strip()))
    if name == "style":
        return not _UNSAFE_STYLE.search(value)
    return True
