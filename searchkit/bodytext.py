"""Post bodies to plain text: Liquid, HTML and Markdown removed, the first source link kept."""

from __future__ import annotations

import html
import re

_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^\s<>]+)>|<>", re.IGNORECASE)
_LIQUID = re.compile(r"\{%-?.*?-?%\}|\{\{-?.*?-?\}\}", re.DOTALL)
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
    (re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)"), r"\1", "!"),  # images: alt text
    (re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)"), r"\1", "("),  # inline links: link text
    (re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]"), r"\1", "["),  # reference links
    (re.compile(r"(\*{1,3}|_{2,3}|~~)(?=\S)(.+?)(?<=\S)\1"), r"\2", "*_~"),  # emphasis
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
    text = _LIQUID.sub(" ", text)
    if _LOOKS_HTML.search(text):
        text = html_to_text(text)
    elif "&" in text:
        text = html.unescape(text)
    text = markdown_to_text(text)
    return tidy(text)


def tidy(text: str) -> str:
    """Collapse runs of blanks inside lines and drop empty lines."""
    text = _SPACES.sub(" ", text)
    text = _BLANKS.sub("\n", text.replace(" \n", "\n").replace("\n ", "\n"))
    return text.strip()
