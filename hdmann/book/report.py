"""What a chapter hands to the book: glued values for the prose (MyST-NB ``glue``) and results tables
(shown scrollable, published as CSV by the runner)."""
from __future__ import annotations

import os
import re

import numpy as np

from hdmann.book import latex_table

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


def sample_wording(used: int, total: int, noun: str, per_class: int | None = None) -> str:
    """How the prose names the set a table covers: "all 322 MIAS films", or, where the profile
    samples it, "a seeded sample of 100 of the 322 MIAS films" (with "(100 per class)" when the
    sample was drawn per class)."""
    if used < 1 or total < used:
        raise ValueError(f"a sample of {used} out of {total} {noun}: expected 1 <= used <= total")
    if used == total:
        return f"all {total:,} {noun}"
    per = f" ({per_class:,} per class)" if per_class is not None else ""
    return f"a seeded sample of {used:,} of the {total:,} {noun}{per}"


TABLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CSV_MIME = "text/csv"


def table(data, name: str, caption: str | None = None):
    """Show a results table (scrollable on a narrow screen) with a link to its CSV, and hand the CSV
    to the book runner, which publishes it beside the page as ``<chapter>/<name>.csv``.

    ``data`` is a DataFrame or a pandas Styler (its formatting is used on the page; the CSV keeps
    full precision). ``name`` is the file name without ``.csv``: lower case, digits, ``_`` or ``-``,
    unique within the chapter. Outside the runner (e.g. in JupyterLab) the table is shown without link.
    """
    import html

    import pandas as pd
    from IPython.display import display
    from pandas.io.formats.style import Styler

    if not isinstance(name, str) or not TABLE_NAME.match(name):
        raise ValueError(f"table name {name!r}: use 1-64 lower-case letters, digits, '_' or '-' "
                         "(it becomes the CSV's file name)")
    if isinstance(data, Styler):
        frame, styler = data.data, data
    elif isinstance(data, pd.DataFrame):
        frame = data
        styler = data.style.format(precision=3, thousands=",")
        if isinstance(data.index, pd.RangeIndex):
            styler = styler.hide(axis="index")
    else:
        raise ValueError(f"report.table shows a pandas DataFrame or Styler, not {type(data).__name__}")
    if frame.empty:  # e.g. a profile that trains no compressed level: say so, publish no empty CSV
        display({"text/html": f"<p><em>{html.escape(caption or name)}: no rows in this profile.</em></p>",
                 "text/markdown": latex_table.myst_block(latex_table.no_rows(caption or name)),
                 "text/plain": f"{caption or name}: no rows in this profile."}, raw=True)
        return
    if caption:
        styler = styler.set_caption(caption)
    keep_index = not isinstance(frame.index, pd.RangeIndex)
    flat = frame
    if isinstance(frame.columns, pd.MultiIndex):  # a CSV has one header row: "accuracy | q5"
        flat = frame.copy()
        flat.columns = [" | ".join(str(part) for part in col if str(part)) for col in frame.columns]
    csv_text = flat.to_csv(index=keep_index)
    chapter = os.environ.get(CHAPTER_ENV, "")
    link = ""
    if chapter:
        href = f"{html.escape(chapter)}/{name}.csv"
        link = (f'<p class="hdmann-csv">Download this table: <a href="{href}" download>{name}.csv</a> '
                f"({len(frame)} row{'' if len(frame) == 1 else 's'}, CSV)</p>")
    body = (f'<div class="hdmann-table" style="overflow:auto; max-height:40em; max-width:100%">'
            f"{styler.to_html()}</div>{link}")
    # the PDF's table (the LaTeX build drops HTML; the HTML build prefers text/html to markdown)
    note = f"This table as CSV: {chapter}/{name}.csv beside the chapter in the web book." if chapter else None
    printed = latex_table.myst_block(latex_table.latex(styler, frame, caption, note))
    display({"text/html": body, "text/markdown": printed, "text/plain": frame.to_string(max_rows=20), CSV_MIME: csv_text},
            raw=True, metadata={TABLE_METADATA: {"name": name, "rows": len(frame)}})


def choices(cfg, scope: str | None = None, extra: dict | None = None):
    """A chapter's "what we chose" table, generated from the config's field metadata: each field
    the papers leave unstated (:func:`hdmann.engine.config.unstated`) in ``scope``, this run's value and
    why we chose it, then the ``extra`` rows (``{setting: value}``, e.g. what a profile ran).
    Show it with :func:`table`."""
    import pandas as pd

    from hdmann.engine.config import unstated_fields

    rows = [{"setting": name, "value": _shown(getattr(cfg, name)), "why": why}
            for name, why in unstated_fields(cfg, scope).items()]
    rows += [{"setting": name, "value": _shown(value), "why": ""} for name, value in (extra or {}).items()]
    return pd.DataFrame(rows, columns=["setting", "value", "why"])


def _shown(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "none"
    return "none" if value is None else str(value)
