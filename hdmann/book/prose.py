"""The prose of a built page as a reader meets it, measured: sentences and their lengths, and what
should never reach a reader (a raw glue role, nan, None, inf, a code identifier in a sentence).

The book's budget (README, "How the book reads"): at most :data:`MEAN_WORDS` words a sentence on
average in every chapter, none over :data:`MAX_WORDS`. Tables, figure captions, code, the verdict
folds and the provenance footer are not prose and are left out.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

MEAN_WORDS, MAX_WORDS = 22, 50
SKIPPED = {"table", "figure", "figcaption", "pre", "code", "script", "style", "details", "nav", "footer", "header",
           "math", "svg", "button", "label", "aside"}
SKIPPED_CLASSES = ("hdmann-provenance", "admonition", "cell_output", "toctree-wrapper", "bibliography", "citation",
                   "sd-dropdown", "footnote", "caption", "prev-next", "bd-footer", "header-article", "hdmann-csv")
ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "Fig.", "Figs.", "vs.", "cf.", "approx.", "No.", "etc.", "Sci.", "Rep.")
NAMED_LETTER = re.compile(r"\b(?:Study|Studies|Part|Appendix|Table|Claim)\s+[A-Z]\.$")  # "Study A." ends a sentence
RAW_GLUE = re.compile(r"\{glue(?::[a-z]+)?\}")
MISSING = re.compile(r"(?<![\w.-])(nan|NaN|None|inf|-inf)(?![\w-])")
ENGLISH_NONE = re.compile(r"^None (?=[a-z])")  # "None is part of it.": the English word opening a sentence
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
        self.code: list[str] = []  # inline code inside the prose (a name in backticks)
        self.code_now: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = attrs.get("class") or ""
        skip = tag in SKIPPED or any(c in classes for c in SKIPPED_CLASSES)
        if tag in ("br", "img", "hr", "meta", "link", "input", "wbr"):
            return
        self.stack.append((tag, skip))
        if tag == "code" and self.current is not None and not self.depth_skip:
            self.code_now = []
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
            if name == "code" and self.code_now is not None and not self.depth_skip:
                if "".join(self.code_now).strip():
                    self.code.append(" ".join("".join(self.code_now).split()))
                self.code_now = None
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
        if self.code_now is not None:
            self.code_now.append(data)


def paragraphs(page_html: str) -> list[str]:
    """The page's prose, one string per paragraph or list item."""
    parser = _Prose()
    parser.feed(page_html)
    return parser.blocks


def inline_code(page_html: str) -> list[str]:
    """The inline code (a name in backticks) inside the page's prose: left out of its sentences, and
    a code name a reader should meet in words."""
    parser = _Prose()
    parser.feed(page_html)
    return parser.code


def sentences(text: str) -> list[str]:
    """A paragraph cut into sentences: after ". ", "? " or "! " before a letter (a sentence may open
    with a lower-case name: "isic4's classes", "libjpeg scales"), a digit or an opening bracket or
    quote, except after a common abbreviation or a single capital (an initial)."""
    protected = text
    for i, abbr in enumerate(ABBREVIATIONS):
        protected = protected.replace(abbr, abbr.replace(".", f"\x00{i}\x00"))
    parts = re.split(r"(?<=[.?!])\s+(?=[A-Za-z0-9(\[*“\"])", protected)
    out = []
    for part in parts:
        for i, abbr in enumerate(ABBREVIATIONS):
            part = part.replace(f"\x00{i}\x00", ".")
        if out and re.search(r"\b[A-Z]\.$", out[-1]) and not NAMED_LETTER.search(out[-1]):  # an initial
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
    code: list[str] = field(default_factory=list)  # inline code in the prose (names in backticks)

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
    parser = _Prose()
    parser.feed(Path(path).read_text(errors="replace"))
    blocks = parser.blocks
    found = [s for b in blocks for s in sentences(html.unescape(b))]
    text = "\n".join(blocks)
    missing = [m for sentence in found for m in MISSING.findall(ENGLISH_NONE.sub("", sentence))]
    return PageProse(Path(path).stem, found, RAW_GLUE.findall(text), missing,
                     sorted(set(IDENTIFIER.findall(text))), sorted(set(parser.code)))
