"""Sphinx extension for the PDF book (``hdmann pdf``): what the LaTeX build needs that the web book
does not. Loaded by :mod:`hdmann.book.bookext`; nothing here touches the HTML build.

* **Code cells.** A chapter's code is folded on the web page (``hide-input``) and one click away; on
  paper it cannot be unfolded, so the PDF leaves out what the page folds and keeps the outputs.
* **Parts.** Sphinx's LaTeX writer drops the captions of the table of contents (it takes the first
  as the title of the contents); each becomes a ``\\part`` before its first chapter, as on the web.
* **Introduction.** The root page's title becomes the document's title, which would leave the
  introduction without a heading and make each of its sections a chapter; it becomes one unnumbered
  chapter under its own title instead, and the chapters are numbered from 1.
* **Figures.** LaTeX numbers them by chapter ("Fig. 2.1"); a figure reproducing a paper's keeps
  the paper's label at the head of its caption, and every reference names "Fig.".
* **Provenance.** Every page's provenance footer is an HTML block, which LaTeX drops; its text is
  set in small type at the end of the chapter instead.
"""
from __future__ import annotations

import html
import re

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

from hdmann.book.latex_table import escape

PROVENANCE_CLASS = "hdmann-provenance"
_TAG = re.compile(r"<[^>]+>")


class LeaveOutFoldedCode(SphinxPostTransform):
    """Drop what MyST-NB folds on the web page (``hide-input``, ``hide-output``, ``hide-cell``)."""

    default_priority = 199  # where MyST-NB folds them for HTML
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for cell in list(self.document.findall(nodes.container)):
            mode = cell.get("hide_mode")
            if cell.get("nb_element") != "cell_code" or not mode or cell.parent is None:
                continue
            if mode == "all":
                cell.parent.remove(cell)
                continue
            for part in list(cell.children):
                kind = part.get("nb_element")
                if (kind == "cell_code_source" and mode in ("input", "input+output")) or \
                        (kind == "cell_code_output" and mode in ("output", "input+output")):
                    cell.remove(part)


def provenance_text(block: str) -> str:
    """The words of a provenance footer's HTML, as one line of text."""
    return " ".join(html.unescape(_TAG.sub("", block)).split())


def _latex(text: str) -> nodes.raw:
    return nodes.raw("", text, format="latex")


class ProvenanceInPrint(SphinxPostTransform):
    """Each provenance footer as a small-type paragraph (the HTML block stays for the web)."""

    default_priority = 200
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for block in list(self.document.findall(nodes.raw)):
            if block.get("format") == "html" and f'class="{PROVENANCE_CLASS}"' in block.astext():
                text = provenance_text(block.astext())
                label, _, rest = text.partition(":")
                block.replace_self(_latex(r"\par\medskip\noindent{\footnotesize\textbf{" + escape(label)
                                          + "}:" + escape(rest) + r"\par}"))


class FigureReferences(SphinxPostTransform):
    """A ``{numref}`` to a figure reads "Fig. 2.1" (LaTeX's number), not the bare number: the web's
    format is ``%s`` because there the number carries its own prefix (:mod:`hdmann.book.bookext`)."""

    default_priority = 205
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for ref in self.document.findall(addnodes.number_reference):
            if ref.get("title") == "%s":
                ref["title"] = "Fig. %s"


class PartsAndIntroduction(SphinxPostTransform):
    """On the whole book (the LaTeX builder's one document): a ``\\part`` per caption of the root
    page's table of contents, and the root page as an unnumbered introduction."""

    default_priority = 210
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        starts = {sof["docname"]: sof for sof in self.document.findall(addnodes.start_of_file)}
        if not starts:  # a single page, not the assembled book
            return
        root = self.config.root_doc
        for toctree in self.env.get_doctree(root).findall(addnodes.toctree):
            files = toctree.get("includefiles") or []
            if toctree.get("caption") and files and files[0] in starts:
                first = starts[files[0]]
                first.parent.insert(first.parent.index(first), _latex(rf"\part{{{escape(toctree['caption'])}}}"))
        self._introduction(next(iter(self.document.findall(nodes.section)), None))

    def _introduction(self, top: nodes.section | None) -> None:
        """The root page's own content (before its table of contents) as an unnumbered chapter."""
        if top is None or not top.children or not isinstance(top[0], nodes.title):
            return
        own = []
        for child in top.children[1:]:
            if any(True for _ in child.findall(addnodes.start_of_file)) or isinstance(child, addnodes.start_of_file):
                break
            own.append(child)
        if not own:
            return
        chapter = nodes.section("", nodes.title("", "", *[c.deepcopy() for c in top[0].children]), ids=[], names=[])
        at = top.index(own[0])
        for child in own:
            top.remove(child)
            chapter.append(child)
        top.insert(at, chapter)
        # unnumbered, yet in the contents and the running heads; numbering resumes with the first chapter
        top.insert(at, _latex(r"\edef\hdmannsecnumdepth{\arabic{secnumdepth}}\setcounter{secnumdepth}{-1}"))
        top.insert(at + 2, _latex(r"\setcounter{secnumdepth}{\hdmannsecnumdepth}"))


def setup(app):
    app.add_post_transform(LeaveOutFoldedCode)
    app.add_post_transform(ProvenanceInPrint)
    app.add_post_transform(FigureReferences)
    app.add_post_transform(PartsAndIntroduction)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
