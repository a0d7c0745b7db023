"""Sphinx extension for the book: figures that reproduce a paper's figure carry the paper's number.

A caption that starts with a source and a figure number, e.g. ``Study A, Fig. 2. The melanoma
image ...``, marks a reproduction: its caption number and every ``{numref}`` to it read
"Study A, Fig. 2", and the book's own figures are numbered "Figure 1, 2, ..." among themselves, so
the book's count never collides with a paper's. Images inside a figure without an explicit ``alt``
get the caption as their alt text (screen readers otherwise read the file name).

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

# "<source>, Fig. <n>" then "." or ":": the source may hold abbreviations ("Jo et al.") but no sentence end
PAPER_FIGURE = re.compile(r"^(?P<label>[A-Z](?:[^.:\n]|\.(?! )){0,40}?, Fig\. ?\d+[a-z]?)[.:]\s+")
OWN_FIGURE = "Figure {}"


def paper_label(caption: str) -> str | None:
    """``"Study A, Fig. 2"`` for a caption that reproduces a paper figure, else None."""
    match = PAPER_FIGURE.match(caption.strip())
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
    # the numbers themselves carry their prefix ("Figure 3" or "Study A, Fig. 2")
    config.numfig_format = {**config.numfig_format, "figure": "%s"}


def _renumber(app, env) -> list[str]:
    """Runs after Sphinx numbered every figure in book order: relabel paper figures, renumber the rest."""
    own = []
    for docname, types in env.toc_fignumbers.items():
        numbers = types.get("figure")
        if not numbers:
            continue
        labels = {}
        for figure in env.get_doctree(docname).findall(nodes.figure):
            if figure["ids"]:
                labels[figure["ids"][0]] = paper_label(_caption(figure))
        for figure_id, number in numbers.items():
            if labels.get(figure_id):
                numbers[figure_id] = (labels[figure_id],)
            elif all(isinstance(n, int) for n in number):
                own.append((tuple(number), docname, figure_id))
    for count, (_, docname, figure_id) in enumerate(sorted(own), start=1):
        env.toc_fignumbers[docname]["figure"][figure_id] = (OWN_FIGURE.format(count),)
    return []


def _captions_and_alt(app, doctree, docname) -> None:
    for figure in doctree.findall(nodes.figure):
        caption = [c for c in figure.children if isinstance(c, nodes.caption)]
        text = caption[0].astext().strip() if caption else ""
        label = paper_label(text)
        if label and figure["ids"]:
            # the label moved into the caption number: drop it from the caption text
            first = next(iter(caption[0].findall(nodes.Text)), None)
            match = PAPER_FIGURE.match(str(first).lstrip()) if first is not None else None
            if match:
                first.parent.replace(first, nodes.Text(str(first).lstrip()[match.end():]))
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
    app.connect("env-get-updated", _renumber, priority=900)
    app.connect("doctree-resolved", _captions_and_alt)
    app.connect("html-page-context", _dedupe_scripts, priority=999)  # after every extension added its scripts
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
