"""Sphinx extension for the book: one figure numbering, alt text from captions, no hollow builds.

Every figure is "Figure 1, 2, ..." in book order, whatever the table of contents numbers, and every
``{numref}`` to it reads the same. A figure that reproduces a paper's figure says so in its caption
("... Reproduces Fig. 4 of Study A."); a caption that *starts* with a paper's number, the form that
once gave reproductions the paper's number ("Study A, Fig. 4. Accuracy ..."), is reported as a
warning (an error under ``-W``, as the book builds), because a page with "Figure 4" and "Study A,
Fig. 4" a screen apart gives the reader two numberings. Images inside a figure without an explicit
``alt`` get the caption as their alt text (screen readers otherwise read the file name).

``jupyter-book build .`` in a checkout builds the book ``hdmann book`` last built there: that build
leaves its executed chapters where ``_toc.yml`` names them (``book/executed/``), the files it
publishes beside the pages (tables' CSVs, ``results.json``) in ``_published/`` and the provenance
footer of the static pages (all git-ignored); this extension copies the published files into the
HTML and adds the footer. Before any ``hdmann book``, Jupyter Book would report success on a hollow
book with dangling links, so the build stops at once with one sentence saying which command to run.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from docutils import nodes
from sphinx.errors import ConfigError
from sphinx.util import logging

# what `hdmann book` leaves in a checkout for `jupyter-book build .` (hdmann.book.runner.leave_for_jupyter_book)
PUBLISHED_DIR = "_published"  # copied into the HTML as it is: book/executed/<chapter>/<table>.csv, results.json
STATIC_FOOTER = "book/executed/static-footer.html"  # the provenance footer of the pages under book/
PROVENANCE_MARK = 'class="hdmann-provenance"'

logger = logging.getLogger(__name__)

# "<source>, Fig. <n>" then "." or ":" at a caption's start: the source may hold abbreviations
# ("Jo et al.") but no sentence end
PAPER_PREFIX = re.compile(r"^(?P<label>[A-Z](?:[^.:\n]|\.(?! )){0,40}?, Fig\. ?\d+[a-z]?)[.:]\s+")
OWN_FIGURE = "Figure {}"


def paper_prefix(caption: str) -> str | None:
    """``"Study A, Fig. 2"`` for a caption that starts with a paper's figure number, else None."""
    match = PAPER_PREFIX.match(caption.strip())
    return match.group("label") if match else None


def _caption(figure: nodes.figure) -> str:
    found = [c for c in figure.children if isinstance(c, nodes.caption)]
    return found[0].astext() if found else ""


TOC_FILE = re.compile(r"^\s*-?\s*(?:file|root):\s*(\S+)\s*$", re.MULTILINE)
SOURCE_SUFFIXES = (".ipynb", ".md", ".rst")


def missing_chapters(srcdir) -> list[str]:
    """The ``_toc.yml`` entries of ``srcdir`` with no source file (as ``book/executed/data``)."""
    toc = Path(srcdir) / "_toc.yml"
    if not toc.is_file():
        return []
    return [entry for entry in TOC_FILE.findall(toc.read_text(encoding="utf-8"))
            if not any((Path(srcdir) / f"{entry}{suffix}").is_file() for suffix in SOURCE_SUFFIXES)
            and not (Path(srcdir) / entry).is_file()]


def refusal(missing: list[str]) -> str:
    """The one sentence a build prints where chapters of ``_toc.yml`` were never executed."""
    listed = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
    return (f"jupyter-book: {len(missing)} chapter(s) of _toc.yml have not been executed here ({listed}): "
            "they are notebooks that `hdmann book` executes, so run `hdmann book --profile smoke` (minutes) or "
            "`make book` first, after which `jupyter-book build .` rebuilds the same HTML.")


def _check_chapters(app, config) -> None:
    missing = missing_chapters(app.srcdir)
    if missing:
        # one sentence and exit status 1: Jupyter Book turns any exception, ConfigError too, into a traceback
        print(refusal(missing), file=sys.stderr)
        raise SystemExit(1)


def _publish_beside_pages(app, config) -> None:
    if (Path(app.srcdir) / PUBLISHED_DIR).is_dir():
        config.html_extra_path = [*config.html_extra_path, PUBLISHED_DIR]


def _static_page_footer(app, docname: str, source: list[str]) -> None:
    """A page under ``book/`` gets the footer ``hdmann book`` left, unless it has one (the assembled book)."""
    footer = Path(app.srcdir) / STATIC_FOOTER
    if docname.startswith("book/") and not docname.startswith("book/executed/") and footer.is_file() \
            and PROVENANCE_MARK not in source[0]:
        source[0] += "\n\n" + footer.read_text(encoding="utf-8")


def _set_format(app, config) -> None:
    # the numbers themselves carry their prefix ("Figure 3")
    config.numfig_format = {**config.numfig_format, "figure": "%s"}


def _renumber(app, env) -> list[str]:
    """Runs after Sphinx numbered every figure in book order: one flat count, "Figure 1, 2, ...", even
    where a numbered table of contents would make it "Figure 2.3"."""
    found = []
    for docname, types in env.toc_fignumbers.items():
        for figure_id, number in (types.get("figure") or {}).items():
            if all(isinstance(n, int) for n in number):
                found.append((tuple(number), docname, figure_id))
    for count, (_, docname, figure_id) in enumerate(sorted(found), start=1):
        env.toc_fignumbers[docname]["figure"][figure_id] = (OWN_FIGURE.format(count),)
    return []


def _captions_and_alt(app, doctree, docname) -> None:
    # LaTeX numbers every figure itself (Fig. 2.1), so there the caption keeps the paper's label
    in_print = app is not None and app.builder.format == "latex"
    for figure in doctree.findall(nodes.figure):
        text = _caption(figure).strip()
        label = paper_prefix(text)
        if label and not in_print:
            number, source = label.rsplit(", ", 1)[1], label.rsplit(", ", 1)[0]
            logger.warning(f"a figure caption starts with a paper's number ({label!r}): the book numbers every "
                           f"figure itself; end the caption with 'Reproduces {number} of {source}.' instead",
                           location=figure)
        for image in figure.findall(nodes.image):
            if not image.get("alt") and text:
                image["alt"] = text


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Each script once: sphinx-thebe and togglebutton register their inline config twice with Sphinx 7.4; the second
    copy is a console error ("Identifier 'THEBE_JS_URL' has already been declared") on every page."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.setup_extension("hdmann.book.latex_layout")  # the PDF's layout (hdmann pdf); nothing of the HTML
    app.connect("config-inited", _check_chapters, priority=100)  # before anything is read or written
    app.connect("config-inited", _set_format)
    app.connect("config-inited", _publish_beside_pages)
    app.connect("source-read", _static_page_footer)
    app.connect("env-get-updated", _renumber, priority=900)  # after Sphinx assigned its numbers
    app.connect("doctree-resolved", _captions_and_alt)
    app.connect("html-page-context", _dedupe_scripts, priority=999)  # after every extension added its scripts
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
