"""What a chapter hands to the book: glued values for the prose (MyST-NB ``glue``) and results tables
(shown scrollable, published as CSV by the runner)."""
from __future__ import annotations

import os
import re

import numpy as np

from hdmann.book import latex_table
from hdmann.engine.config import unstated_fields

CHAPTER_ENV = "HDMANN_CHAPTER"  # set by the book runner for the kernel: the chapter being executed
TABLE_METADATA = "hdmann_table"  # output metadata by which the runner finds a table's CSV


def one_blas_thread() -> None:
    """NumPy's BLAS on one thread for the rest of this process, as in every stage
    (:func:`hdmann.engine.stages._one_thread`). A chapter computes some numbers itself (bootstraps,
    the whole-film pixel baseline's logistic regressions); with a thread per core, their sums are
    split by the core count and the last digits followed the machine (the pixel baseline's interval
    moved by 0.0007 between 1 and 2 CPUs)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


one_blas_thread()  # every chapter imports this module first, the book's runs and papermill's alike


def plain(value):
    """NumPy scalars become Python numbers: MyST-NB formats ``{glue:text}`x:.3f``` from the text repr."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue(name: str, value) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}``/``{glue:figure}``, without displaying it here."""
    import matplotlib.pyplot as plt
    from myst_nb import glue as myst_glue

    myst_glue(name, plain(value), display=False)
    if isinstance(value, plt.Figure):
        plt.close(value)  # the glued copy is kept; the live figure would pile up in memory


def glue_all(values: dict) -> None:
    """Glue every entry of a chapter's report dict under its key: the notebook names no value one by one,
    so the report function is the one place a chapter's cited numbers and sentences are made."""
    if not isinstance(values, dict):
        raise ValueError(f"glue_all takes the dict a chapter's report function returns, got {type(values).__name__}")
    for name, value in values.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"glued name {name!r}: a glue name is one identifier (letters, digits, underscores)")
        glue(name, value)


TABLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CSV_MIME = "text/csv"


def table(data, name: str, caption: str | None = None, show: dict | None = None, precision: int = 3, csv=None):
    """Show a results table (scrollable on a narrow screen) with a link to its CSV, and hand the CSV
    to the book runner, which publishes it beside the page as ``<chapter>/<name>.csv``.

    ``data`` is a DataFrame or a pandas Styler (its formatting is used on the page; the CSV keeps
    full precision). ``show`` (``{column: header}``, DataFrames only) shows those columns under human
    headers, in that order; the CSV keeps every column under its own name. ``csv``: a DataFrame to
    publish instead of the one shown (the full numbers behind a table of formatted text). ``name`` is the file name
    without ``.csv``: lower case, digits, ``_`` or ``-``, unique within the chapter. Outside the
    runner (e.g. in JupyterLab) the table is shown without link.
    """
    import html

    import pandas as pd
    from IPython.display import display
    from pandas.io.formats.style import Styler

    if not isinstance(name, str) or not TABLE_NAME.match(name):
        raise ValueError(f"table name {name!r}: use 1-64 lower-case letters, digits, '_' or '-' "
                         "(it becomes the CSV's file name)")
    if show is not None and not isinstance(data, pd.DataFrame):
        raise ValueError("report.table: show= picks columns of a DataFrame; format a Styler's columns yourself")
    if isinstance(data, Styler):
        frame, styler = data.data, data
        shown = frame
    elif isinstance(data, pd.DataFrame):
        frame = data
        shown = data if show is None else data[list(show)].rename(columns=show)
        styler = shown.style.format(precision=precision, thousands=",", na_rep="—")
        if isinstance(data.index, pd.RangeIndex):
            styler = styler.hide(axis="index")
    else:
        raise ValueError(f"report.table shows a pandas DataFrame or Styler, not {type(data).__name__}")
    words = [c for c, kind in zip(shown.columns, shown.dtypes)  # text reads from the left, numbers from the right
             if not pd.api.types.is_numeric_dtype(kind)]
    if words and shown.columns.is_unique:
        styler = styler.set_properties(subset=words, **{"text-align": "left"})
    if frame.empty:  # e.g. a profile that trains no compressed level: say so, publish no empty CSV
        display({"text/html": f"<p><em>{html.escape(caption or name)}: no rows in this profile.</em></p>",
                 "text/markdown": latex_table.myst_block(latex_table.no_rows(caption or name)),
                 "text/plain": f"{caption or name}: no rows in this profile."}, raw=True)
        return
    if caption:
        styler = styler.set_caption(caption)
    published = frame if csv is None else csv
    keep_index = not isinstance(published.index, pd.RangeIndex)
    flat = published
    if isinstance(published.columns, pd.MultiIndex):  # a CSV has one header row: "accuracy | q5"
        flat = published.copy()
        flat.columns = [" | ".join(str(part) for part in col if str(part)) for col in published.columns]
    csv_text = flat.to_csv(index=keep_index)
    chapter = os.environ.get(CHAPTER_ENV, "")
    link = ""
    if chapter:
        href = f"{html.escape(chapter)}/{name}.csv"
        link = (f'<p class="hdmann-csv">Download this table: <a href="{href}" download>{name}.csv</a> '
                f"({len(published)} row{'' if len(published) == 1 else 's'}, CSV)</p>")
    body = (f'<div class="hdmann-table" style="overflow:auto; max-height:40em; max-width:100%">'
            f"{styler.to_html()}</div>{link}")
    # the PDF's table (the LaTeX build drops HTML; the HTML build prefers text/html to markdown)
    note = f"This table as CSV: {chapter}/{name}.csv beside the chapter in the web book." if chapter else None
    printed = latex_table.myst_block(latex_table.latex(styler, shown, caption, note))  # what the page shows
    display({"text/html": body, "text/markdown": printed, "text/plain": frame.to_string(max_rows=20), CSV_MIME: csv_text},
            raw=True, metadata={TABLE_METADATA: {"name": name, "rows": len(published)}})


def choices(cfg, scope: str | tuple | None = None, extra: dict | None = None):
    """A chapter's "what we chose" table, generated from the config's field metadata: each field
    the papers leave unstated (:func:`hdmann.engine.config.unstated`) in ``scope`` (a section of the
    config such as ``"patches"``, None for the fields outside the sections, or a tuple of these), this
    run's value and why we chose it, then the ``extra`` rows (``{setting: value}``, e.g. what a profile
    ran). Show it with :func:`table`."""
    import pandas as pd

    rows = []
    for part in scope if isinstance(scope, tuple) else (scope,):
        section = getattr(cfg, part) if part is not None and unstated_fields(cfg, part) and _is_section(cfg, part) else cfg
        prefix = f"{part}." if section is not cfg else ""  # a section's field as --set names it: patches.size
        rows += [{"setting": prefix + name, "value": _shown(getattr(section, name)), "why": why}
                 for name, why in unstated_fields(cfg, part).items()]
    rows += [{"setting": name, "value": _shown(value), "why": ""} for name, value in (extra or {}).items()]
    return pd.DataFrame(rows, columns=["setting", "value", "why"])


def _is_section(cfg, name: str) -> bool:
    import dataclasses

    value = getattr(cfg, name, None)
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _shown(value) -> str:
    if isinstance(value, tuple):
        run = len(value) > 3 and all(isinstance(v, int) for v in value) and list(value) == list(range(value[0], value[-1] + 1))
        return f"{value[0]} to {value[-1]}" if run else ", ".join(str(v) for v in value) or "none"
    return "none" if value is None else str(value)


# ------------------------------------------------------------------------------------------------
# verdicts: one table shape for every chapter and the landing page
# ------------------------------------------------------------------------------------------------
VERDICT_COLUMNS = ("Claim", "Paper", "This run", "Verdict", "Seeds")
VERDICT_WIDTHS = (28, 13, 26, 17, 16)
INFORMATIVE_CHECKS = ("confirms", "contradicts")  # the table's word; "undecided there" and the rest are in the fold


def _cell(text: str) -> str:
    """One list-table cell: a line break would end the cell, and a stray brace or backtick would be read as a role."""
    return " ".join(str(text).split()).replace("`", "'") or "—"


def _lines(texts) -> str:
    """Several paragraphs in one list-table cell (a blank line, then the item's indentation)."""
    return "\n\n    ".join(texts)


def list_table(header, rows, caption: str = "", widths=None, css: str = "hdmann-text-table", long: bool = False) -> str:
    """A MyST list-table: text cells wrap inside the column instead of running off the page, and it
    renders in the web book and the PDF alike. ``rows``: sequences of cell texts (MyST inline).
    ``long``: the PDF may break it across pages (a LaTeX longtable), which a table inside a box cannot."""
    widths = widths or [1] * len(header)
    lines = ["```{list-table}" + (f" {_cell(caption)}" if caption else ""), ":header-rows: 1",
             f":class: {css}" + (" longtable" if long else ""),
             f":widths: {' '.join(str(w) for w in widths)}", ""]
    for row in (header, *rows):
        lines += [f"* - {row[0]}"] + [f"  - {cell}" for cell in row[1:]]
    return "\n".join(lines + ["```"])


def deviation_markdown(rows, caption: str = "") -> str:
    """How this run differs from a paper, and what that changes where it can be measured: ``rows``
    of ``{"study", "what", "paper", "this run", "consequence"}``; one table per study."""
    tables = []
    for study in dict.fromkeys(r["study"] for r in rows):
        cells = [tuple(_cell(r[k]) for k in ("what", "paper", "this run", "consequence")) for r in rows if r["study"] == study]
        title = f"{caption}: {study}" if caption else study
        tables.append(list_table(("What", "Paper", "This run", "Measured consequence"), cells, title,
                                 (16, 22, 24, 38), css="hdmann-deviations", long=True))
    return "\n\n".join(tables)


def deviation_table(rows, caption: str = "") -> None:
    """Show :func:`deviation_markdown`."""
    _markdown(deviation_markdown(rows, caption))


def opening(verdicts, deviations, profile: str, links: dict | None = None) -> None:
    """A chapter's first screen: the verdicts it decides, boxed; then, outside the box (which the PDF
    cannot break across pages), how each is decided and how this run differs from the paper."""
    parts = []
    if verdicts:
        # the PDF keeps the box's title with its table (a table cannot break, so it would leave the title
        # alone at a page's foot): a new page unless about 5 lines a claim are left, at most a page
        lines = min(8 + 5 * len({v.claim.id for v in verdicts}), 40)
        parts += [latex_table.myst_block(rf"\needspace{{{lines}\baselineskip}}"),
                  f"`````{{admonition}} What this chapter finds ({profile} profile)", ":class: hdmann-opening", "",
                  verdict_markdown(verdicts, "", links, fold=False), "`````", "", verdict_fold(verdicts)]
    if deviations:
        parts += ["", deviation_markdown(deviations, f"How this run ({profile} profile) differs from the paper")]
    _markdown("\n".join(parts))


def _markdown(text: str) -> None:
    from IPython.display import display

    display({"text/markdown": text, "text/plain": text}, raw=True)


def verdict_markdown(verdicts, caption: str = "", links: dict | None = None, long: bool = False,
                     fold: bool = True) -> str:
    """MyST for a verdict table (:class:`hdmann.methods.verdicts.Verdict` records): claim, the paper's
    number, this run's number with its interval, the verdict (the only bold word) with the held-out
    check where it says something, and the seeds that reach it; a claim decided on several conditions
    is one row, a line per condition. Each rule, untested part and baseline is in a fold below.
    ``links``: claim id -> a label to link the claim to (the landing page links each to its chapter).

    Markdown, not HTML: the same output renders in the web book and in the PDF."""
    links = links or {}
    by_claim: dict[str, list] = {}
    for v in verdicts:
        by_claim.setdefault(v.claim.id, []).append(v)
    rows = []
    for cid, group in by_claim.items():
        claim = group[0].claim
        name = cid if cid not in links else f"{{ref}}`{cid} <{links[cid]}>`"
        several = len(group) > 1

        def tagged(v, text: str) -> str:
            return f"{_cell(v.tag or v.condition)}: {text}" if several else text

        ours = [tagged(v, _cell(v.effect.text() if v.effect else "—") + (f", {_cell(v.effect.what)}" if v.effect and not several
                                                                          else "")) for v in group]
        if several and group[0].effect:
            ours.append(_cell(group[0].effect.what))
        verdict = [tagged(v, f"**{v.outcome}**" + (f"; the held-out set {v.check}" if v.check in INFORMATIVE_CHECKS else ""))
                   for v in group]
        seeds = [tagged(v, v.seed_text()) for v in group]
        words = _cell(claim.words) + ("" if several or not group[0].tag else f" ({_cell(group[0].tag)})")
        rows.append((f"{name}: {words}", _cell(claim.paper), _lines(ours), _lines(verdict), _lines(seeds)))
    table = list_table(VERDICT_COLUMNS, rows, caption, VERDICT_WIDTHS, css="hdmann-verdicts", long=long)
    return table + ("\n\n" + verdict_fold(verdicts) if fold else "")


def verdict_fold(verdicts) -> str:
    """MyST for the fold under a verdict table: each verdict's condition, rule, untested part, baseline,
    measured details and held-out check."""
    notes = []
    for v in verdicts:
        said = [f"Rule: {_cell(v.rule)}."]
        if v.condition:
            said.insert(0, f"Condition: {_cell(v.condition)}.")
        if v.untested:
            said.append(f"Not tested: {_cell(v.untested)}.")
        if v.baseline:
            said.append(f"Baseline: {_cell(v.baseline)}.")
        if v.details:
            said.append(f"Measured: {_cell(v.details)}.")
        if v.check != "no held-out set":
            said.append(f"Held-out check: {v.check}.")
        notes.append(f"- {v.claim.id}{' (' + _cell(v.tag) + ')' if v.tag else ''}. " + " ".join(said))
    return "\n".join(["````{dropdown} How each verdict is decided", *notes, "````"])


def verdict_table(verdicts, caption: str = "", links: dict | None = None) -> None:
    """Show :func:`verdict_markdown` in a chapter (or the landing page), free to break across the PDF's pages."""
    _markdown(verdict_markdown(verdicts, caption, links, long=True))
