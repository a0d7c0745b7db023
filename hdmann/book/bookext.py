"""Sphinx extension for the book: one figure numbering, alt text from captions, no hollow builds.

Every figure is "Figure 1, 2, ..." in book order, whatever the table of contents numbers, and every
``{numref}`` to it reads the same. A figure that reproduces a paper's figure says so in its caption
("... Reproduces Fig. 4 of Study A."); a caption that *starts* with a paper's number, the form that
once gave reproductions the paper's number ("Study A, Fig. 4. Accuracy ..."), is reported as a
warning (an error under ``-W``, as the book builds), because a page with "Figure 4" and "Study A,
Fig. 4" a screen apart gives the reader two numberings. Images inside a figure without an explicit
``alt`` get the caption as their alt text (screen readers otherwise read the file name).

It also stops a build of chapters that were never executed: ``jupyter-book build .`` in a checkout
reads ``_toc.yml``, whose chapters are the executed notebooks that ``hdmann book`` assembles in
``_build/source``; without them Jupyter Book would report success on a hollow book with dangling
links, so the build stops at once and says which command builds the real one.
"""
from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.errors import ConfigError
from sphinx.util import logging

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


def what_to_run(srcdir) -> str:
    """One sentence for a build started where the executed chapters are not."""
    assembled = Path(srcdir) / "_build" / "source"
    again = (f" The last `hdmann book` left its executed chapters in {assembled}: `jupyter-book build "
             f"{assembled} --path-output {Path(srcdir)}` rebuilds the HTML from them." if (assembled / "_toc.yml").is_file()
             else "")
    return ("the chapters are notebooks that `hdmann book` executes (papermill) and assembles before it runs "
            "Jupyter Book: run `hdmann book --profile smoke` (minutes) or `make book` (quick), which writes "
            "_build/html/index.html." + again)


def _check_chapters(app, config) -> None:
    missing = missing_chapters(app.srcdir)
    if missing:
        raise ConfigError(f"{len(missing)} chapter(s) of _toc.yml are not here ({', '.join(missing[:3])}"
                          f"{', ...' if len(missing) > 3 else ''}): {what_to_run(app.srcdir)}")


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
    for figure in doctree.findall(nodes.figure):
        text = _caption(figure).strip()
        label = paper_prefix(text)
        if label:
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
    app.connect("config-inited", _check_chapters, priority=100)  # before anything is read or written
    app.connect("config-inited", _set_format)
    app.connect("env-get-updated", _renumber, priority=900)  # after Sphinx assigned its numbers
    app.connect("doctree-resolved", _captions_and_alt)
    app.connect("html-page-context", _dedupe_scripts, priority=999)  # after every extension added its scripts
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
