"""The prose of a built page as a reader meets it, measured: sentences and their lengths, and what
should never reach a reader (a raw glue role, nan, None, inf, a code identifier in a sentence).

The book's budget (README, "How the book reads"): at most :data:`MEAN_WORDS` words a sentence on
average in every chapter, none over :data:`MAX_WORDS`. Tables, figure captions, code, the verdict
folds and the provenance footer are not prose and are left out.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

MEAN_WORDS, MAX_WORDS = 22, 50
SKIPPED = {"table", "figure", "figcaption", "pre", "code", "script", "style", "details", "nav", "footer", "header",
           "math", "svg", "button", "label", "aside"}
SKIPPED_CLASSES = ("hdmann-provenance", "admonition", "cell_output", "toctree-wrapper", "bibliography", "citation",
                   "sd-dropdown", "footnote", "caption", "prev-next", "bd-footer", "header-article", "hdmann-csv")
ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "Fig.", "Figs.", "vs.", "cf.", "approx.", "No.", "etc.", "Sci.", "Rep.")
RAW_GLUE = re.compile(r"\{glue(?::[a-z]+)?\}")
MISSING = re.compile(r"(?<![\w.-])(nan|NaN|None|inf|-inf)(?![\w-])")
IDENTIFIER = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[A-Z][a-z]+[A-Z]\w*Config\b|\b[A-Z]{2,}_[A-Z_]+\b")


class _Prose(HTMLParser):
    """Collects the text of paragraphs and list items inside the article, outside the skipped parts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth_skip = 0
        self.stack: list[tuple[str, bool]] = []
        self.in_article = 0
        self.blocks: list[str] = []
        self.current: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = attrs.get("class") or ""
        skip = tag in SKIPPED or any(c in classes for c in SKIPPED_CLASSES)
        if tag in ("br", "img", "hr", "meta", "link", "input", "wbr"):
            return
        self.stack.append((tag, skip))
        if skip:
            self.depth_skip += 1
        if tag == "article" or "bd-article" in classes:
            self.in_article += 1
        if tag in ("p", "li") and self.in_article and not self.depth_skip and self.current is None:
            self.current = []

    def handle_endtag(self, tag):
        while self.stack:
            name, skip = self.stack.pop()
            if skip:
                self.depth_skip -= 1
            if name == "article":
                self.in_article -= 1
            if name in ("p", "li") and self.current is not None and not self.depth_skip:
                text = " ".join("".join(self.current).split())
                if text:
                    self.blocks.append(text)
                self.current = None
            if name == tag:
                break

    def handle_data(self, data):
        if self.current is not None and not self.depth_skip:
            self.current.append(data)


def paragraphs(page_html: str) -> list[str]:
    """The page's prose, one string per paragraph or list item."""
    parser = _Prose()
    parser.feed(page_html)
    return parser.blocks


def sentences(text: str) -> list[str]:
    """A paragraph cut into sentences: after ". ", "? " or "! " before a capital, a digit or an
    opening bracket, except after a common abbreviation or a single capital (an initial)."""
    protected = text
    for i, abbr in enumerate(ABBREVIATIONS):
        protected = protected.replace(abbr, abbr.replace(".", f"\x00{i}\x00"))
    parts = re.split(r"(?<=[.?!])\s+(?=[A-Z0-9(\[*“\"])", protected)
    out = []
    for part in parts:
        for i, abbr in enumerate(ABBREVIATIONS):
            part = part.replace(f"\x00{i}\x00", ".")
        if out and re.search(r"\b[A-Z]\.$", out[-1]):  # an initial, not a sentence end
            out[-1] += " " + part
        elif part.strip():
            out.append(part.strip())
    return out


def words(sentence: str) -> int:
    return len([w for w in sentence.split() if re.search(r"[\w]", w)])


@dataclass
class PageProse:
    page: str
    sentences: list[str]
    raw_glue: list[str]
    missing: list[str]
    identifiers: list[str]

    @property
    def mean_words(self) -> float:
        return sum(map(words, self.sentences)) / len(self.sentences) if self.sentences else 0.0

    @property
    def longest(self) -> tuple[int, str]:
        return max(((words(s), s) for s in self.sentences), default=(0, ""))

    @property
    def over(self) -> list[str]:
        return [s for s in self.sentences if words(s) > MAX_WORDS]


def read(path: Path) -> PageProse:
    """The prose of one built page, measured."""
    blocks = paragraphs(Path(path).read_text(errors="replace"))
    found = [s for b in blocks for s in sentences(html.unescape(b))]
    text = "\n".join(blocks)
    return PageProse(Path(path).stem, found, RAW_GLUE.findall(text), MISSING.findall(text),
                     sorted(set(IDENTIFIER.findall(text))))
