"""Post bodies to plain text: Liquid, HTML and Markdown removed, the first source link kept."""

from __future__ import annotations

import html
import re

_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^\s<>]+)>|<>", re.IGNORECASE)
_LOOKS_HTML = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*[\s/>]|/[a-zA-Z]|!--)")
_BLOCK_TAGS = (
    "address|article|aside|blockquote|br|center|dd|div|dl|dt|figcaption|figure|footer|form|"
    "h[1-6]|header|hr|li|main|nav|ol|p|pre|section|table|tbody|td|th|thead|tr|ul"
)
_BLOCK_BREAK = re.compile(rf"(<(?:{_BLOCK_TAGS})\b[^>]*>|</(?:{_BLOCK_TAGS})\s*>)", re.IGNORECASE)
_DROP_TAGS = ["script", "style", "noscript", "template", "head", "title"]

# Markdown, line by line and inline; each keeps the words and drops the syntax.  A rule runs
# only on a text holding one of its marks (most posts hold few of them).
_MD_RULES = [
    (re.compile(r"^ {0,3}(```|~~~).*$", re.MULTILINE), "", "`~"),  # code fences
    (re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*\S+.*$", re.MULTILINE), "", "["),  # link definitions
    (re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$", re.MULTILINE), r"\1", "#"),  # ATX headings
    (re.compile(r"^ {0,3}(?:[=]{3,}|[-]{3,}|[*]{3,}|[_]{3,})[ \t]*$", re.MULTILINE), "", "=-*_"),
    (re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE), "", ">"),  # block quotes
    (re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+", re.MULTILINE), "", "-*+.)"),  # list items
    # each bracket's text holds no bracket and each part is bounded: a scan from one
    # bracket stops at the next, so a run of 40,000 brackets costs 40,000 short scans
    (re.compile(r"!\[([^\[\]\n]{0,1000})\]\([^()\n]{0,2000}\)"), r"\1", "!"),  # images
    (re.compile(r"\[([^\[\]\n]{0,1000})\]\([^()\n]{0,2000}\)"), r"\1", "("),  # inline links
    (re.compile(r"\[([^\[\]\n]{1,1000})\]\[[^\[\]\n]{0,1000}\]"), r"\1", "["),  # reference
    # emphasis: the text between holds no mark, so a scan stops at the next one
    (re.compile(r"(\*{1,3}|_{2,3}|~~)(?=[^\s*_~])([^*_~\n]{1,500}?)(?<=\S)\1"), r"\2", "*_~"),
    (re.compile(r"`+([^`\n]*)`+"), r"\1", "`"),  # inline code
    (
        re.compile(r"^[ \t]*\|?(?:[ \t]*:?-{3,}:?[ \t]*\|)+.*$", re.MULTILINE),
        "",
        "|",
    ),  # table rules
]
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_BLANKS = re.compile(r"\n\s*\n+")


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment; block elements become line breaks."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(_BLOCK_BREAK.sub(r"\n\1\n", markup))
    tree.strip_tags(_DROP_TAGS)
    root = tree.body or tree.root
    return root.text(deep=True, separator="") if root is not None else ""


def strip_liquid(text: str) -> str:
    """Liquid tags (``{% ... %}``, ``{{ ... }}``) removed, in one pass: each opening is
    closed by the first closing after it, and an opening no closing follows ends the search
    (a regular expression would look for a closing again from each of 40,000 openings)."""
    if "{" not in text:
        return text
    out = []
    pos = 0
    ends = {"{%": "%}", "{{": "}}"}
    while True:
        start = text.find("{", pos)
        while start >= 0 and text[start : start + 2] not in ends:
            start = text.find("{", start + 1)
        if start < 0:
            break
        end = text.find(ends[text[start : start + 2]], start + 2)
        if end < 0:
            break
        out.append(text[pos:start])
        out.append(" ")
        pos = end + 2
    out.append(text[pos:])
    return "".join(out)


#: Markup nested deeper than this is read by :func:`tags_to_text`: an HTML parser's work
#: on a stack of open elements grows with its depth at every tag.
MAX_NESTING = 256
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^<>]*?(/?)>")
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


def _deeply_nested(markup: str) -> bool:
    """Whether elements open inside one another more than :data:`MAX_NESTING` deep."""
    if markup.count("<") < MAX_NESTING:
        return False
    depth = 0
    for match in _TAG.finditer(markup):
        closing, name, selfclosing = match.groups()
        if closing:
            depth = max(depth - 1, 0)
        elif not selfclosing and name.lower() not in _VOID:
            depth += 1
            if depth > MAX_NESTING:
                return True
    return False


_DROP_OPEN = re.compile(r"<(script|style|noscript|template|head|title)\b[^<>]{0,2000}>", re.I)
_DROP_CLOSE = {name: re.compile(rf"</{name}\s*>", re.I) for name in _DROP_TAGS}
_ANY_TAG = re.compile(r"<[^<>]*>")


def drop_elements(markup: str) -> str:
    """``markup`` without its script, style and other unseen elements, content and all, in
    one pass: each closing is looked for once, from where the last element ended, and an
    element never closed takes the rest of the text, as a browser reads it (looking for a
    closing again from each of thousands of unclosed openings would be quadratic)."""
    out = []
    pos = 0
    while True:
        found = _DROP_OPEN.search(markup, pos)
        if found is None:
            break
        out.append(markup[pos : found.start()])
        out.append(" ")
        closing = _DROP_CLOSE[found.group(1).lower()].search(markup, found.end())
        if closing is None:
            pos = len(markup)
            break
        pos = closing.end()
    out.append(markup[pos:])
    return "".join(out)


def tags_to_text(markup: str) -> str:
    """Visible text of markup too deeply nested for a parser, in one linear pass: dropped
    elements and tags removed, block elements made line breaks, entities decoded."""
    text = drop_elements(markup)
    text = _BLOCK_BREAK.sub("\n", text)
    return html.unescape(_ANY_TAG.sub("", text))


def markdown_to_text(text: str) -> str:
    """Markdown syntax removed, link and image text kept, URLs dropped."""
    for pattern, replacement, marks in _MD_RULES:
        if any(mark in text for mark in marks):
            text = pattern.sub(replacement, text)
    return text


def first_autolink(body: str) -> str | None:
    """The first ``<http...>`` autolink of a body, the post's source link."""
    for match in _AUTOLINK.finditer(body):
        if match.group(1):
            return match.group(1)
    return None


def body_to_text(body: str) -> str:
    """Plain text of a post body, whether it is HTML, Markdown or both."""
    text = _AUTOLINK.sub(" ", body)
    text = strip_liquid(text)
    if _LOOKS_HTML.search(text):
        text = html_to_text(text) if not _deeply_nested(text) else tags_to_text(text)
    elif "&" in text:
        text = html.unescape(text)
    text = markdown_to_text(text)
    return tidy(text)


def tidy(text: str) -> str:
    """Collapse runs of blanks inside lines and drop empty lines."""
    text = _SPACES.sub(" ", text)
    text = _BLANKS.sub("\n", text.replace(" \n", "\n").replace("\n ", "\n"))
    return text.strip()
