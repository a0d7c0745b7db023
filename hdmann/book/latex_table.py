"""A results table as the PDF book shows it: LaTeX in a small font, fitted to the text width; a short
table stays whole where it stands (``tabular``), a long one breaks across pages with its header
repeated (``longtable``).

LaTeX builds drop HTML outputs, so :func:`hdmann.book.report.table` hands the book this rendering too,
as a ``text/markdown`` output holding a raw LaTeX block (the HTML build prefers ``text/html`` and
never shows it). The cells are the Styler's displayed strings (its precision, thousands separator
and hidden index or columns), read through ``Styler.to_string``, so page and PDF show the same
numbers. Column widths come from the text the columns hold: natural widths where they fit the line;
else headers wrap, then the text columns wrap and share what the numeric columns leave (a column of
prose gets more than a column of words, none is squeezed below a few words a line), in a smaller
font or on a turned (landscape) page if the portrait line is too short (a table of a few rows
takes the smallest type before a page of its own); a table wider than every layout is squeezed to
the landscape line.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass

SEPARATOR = "\x1f"  # between the cells of Styler.to_string's lines: never in a table's text
# Characters of text per line at each font size (a 10 pt book with a 470 pt line, about half an em a
# character); a landscape page's line is its 650 pt text height. ORIENTATIONS orders the layouts
# tried: the first in which the table fits is used.
FONTS = (("small", 100), ("footnotesize", 112), ("scriptsize", 128))
LANDSCAPE = 650 / 470
PADDING = 1.5  # a column's two \tabcolsep (3 pt each), in characters
MIN_TEXT = 16  # a wrapped text column keeps at least this many characters a line
BOLD_HEADER = 1.1  # a bold header character is wider than a body one
WHOLE_LINES = 30  # a table this short (lines of text, wrapped cells counted) is set whole, else it breaks across pages
FEW_ROWS = 8  # a table this short takes the smallest type rather than a turned page of its own
_BREAK_AFTER = re.compile(r"([_/])")
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "`": r"\textasciigrave{}", "<": r"\textless{}", ">": r"\textgreater{}"}
_SPECIAL = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))


def escape(text: str) -> str:
    """``text`` as LaTeX prints it literally; a line may break after ``_`` or ``/`` (long identifiers
    in narrow columns)."""
    escaped = _SPECIAL.sub(lambda m: _LATEX_SPECIAL[m.group(0)], str(text))
    return escaped.replace(r"\_", r"\_\allowbreak{}").replace("/", r"/\allowbreak{}")


def displayed_cells(styler, frame) -> tuple[list[list[str]], list[list[str]], int]:
    """(header rows, body rows, number of index columns) as the Styler displays them: each header row
    has a label per shown column, the index columns' names in the last one."""
    visible_rows = len(frame) - len(set(styler.hidden_rows))
    visible_columns = len(frame.columns) - len(set(styler.hidden_columns))
    styler = copy.copy(styler)  # a line break inside a cell would split its row: a space instead, here only
    styler.data = frame.map(lambda v: " ".join(v.splitlines()) if isinstance(v, str) else v)
    lines = styler.to_string(delimiter=SEPARATOR, sparse_index=False, sparse_columns=False,
                             max_rows=len(frame) + 1, max_columns=len(frame.columns) + 1).rstrip("\n").split("\n")
    rows = [line.split(SEPARATOR) for line in lines]
    width = len(rows[-1]) if rows else 0
    if any(len(r) != width for r in rows) or len(rows) < visible_rows:
        raise ValueError("a table's index or column label holds a line break, which the PDF's table cannot "
                         "show: replace it with a space or '; '")
    index_columns = width - visible_columns
    header, body = rows[:len(rows) - visible_rows], rows[len(rows) - visible_rows:]
    levels = frame.columns.nlevels
    if len(header) > levels:  # the index names' own row: its labels go under the index columns
        names = header[levels]
        header = header[:levels]
        header[-1][:index_columns] = names[:index_columns]
    return header, body, index_columns


def _header_piece(label: str) -> int:
    """A header may wrap at spaces and after ``_`` or ``/``: its longest piece."""
    pieces = re.split(r"\s+", _BREAK_AFTER.sub(r"\1 ", label))
    return max((len(p) for p in pieces), default=0)


def _share(needs: list[float], floors: list[float], room: float) -> list[float]:
    """``room`` shared among wrapping columns in proportion to the square root of what each needs
    (a long column gets more, without starving the short ones), none above its need nor below its
    floor."""
    widths, left = [0.0] * len(needs), set(range(len(needs)))
    while left:
        weight = sum(math.sqrt(needs[i]) for i in left)
        offer = {i: room * math.sqrt(needs[i]) / weight for i in left}
        settled = {i: needs[i] for i in left if offer[i] >= needs[i]} or \
            {i: floors[i] for i in left if offer[i] < floors[i]}
        if not settled:
            for i in left:
                widths[i] = offer[i]
            break
        for i, width in settled.items():
            widths[i] = width
            room -= width
        left -= set(settled)
    return widths


@dataclass(frozen=True)
class Layout:
    font: str  # a LaTeX size command's name
    landscape: bool
    widths: tuple  # each column's share of the line


# larger type before a turned page, a turned page before the smallest type
ORIENTATIONS = ((False, "small"), (False, "footnotesize"), (True, "small"), (True, "footnotesize"), (True, "scriptsize"))


def layout(header, body, numeric: list[bool]) -> Layout:
    """Font, page orientation and column widths that fit the table on the line (see the module doc)."""
    count = len(numeric)
    body_need = [max([len(r[i]) for r in body] + [1]) for i in range(count)]
    whole = [max(body_need[i], *(len(h[i]) * BOLD_HEADER for h in header)) + PADDING for i in range(count)]
    wrapped = [max(body_need[i], *(_header_piece(h[i]) * BOLD_HEADER for h in header)) + PADDING for i in range(count)]
    text = [i for i in range(count) if not numeric[i]]
    chars = dict(FONTS)
    orientations = ORIENTATIONS if len(body) > FEW_ROWS else (*ORIENTATIONS[:2], (False, "scriptsize"), *ORIENTATIONS[2:])
    for landscape, font in orientations:
        line = chars[font] * (LANDSCAPE if landscape else 1)
        if sum(whole) <= line:
            return Layout(font, landscape, tuple(n / line for n in whole))
        widths = list(wrapped)
        room = line - sum(wrapped[i] for i in range(count) if numeric[i])
        floors = [min(wrapped[i], MIN_TEXT) for i in text]
        if sum(wrapped) > line and (not text or room < sum(floors)):
            continue
        if sum(wrapped) > line:
            for i, width in zip(text, _share([wrapped[i] for i in text], floors, room)):
                widths[i] = width
        # what the line has left lets headers wrap less
        spare, short = line - sum(widths), [whole[i] - widths[i] for i in range(count)]
        if spare > 0 and sum(short) > 0:
            widths = [w + min(s, spare * s / sum(short)) for w, s in zip(widths, short)]
        return Layout(font, landscape, tuple(w / line for w in widths))
    return Layout("scriptsize", True, tuple(n / sum(wrapped) for n in wrapped))  # no line holds it: squeeze every column


def _header_rows(header, index_columns: int) -> list[str]:
    """One LaTeX row per header level; equal neighbouring labels of an upper level span their columns."""
    out = []
    for level, labels in enumerate(header):
        last = level == len(header) - 1
        cells, rules, i = [], [], 0
        while i < len(labels):
            j = i + 1
            while not last and i >= index_columns and j < len(labels) and labels[j] == labels[i]:
                j += 1
            text = rf"\textbf{{{escape(labels[i])}}}" if labels[i] else ""
            if j - i > 1:
                cells.append(rf"\multicolumn{{{j - i}}}{{c}}{{{text}}}")
                rules.append(rf"\cmidrule(lr){{{i + 1}-{j}}}")
            else:
                cells.append(text)
            i = j
        out.append(" & ".join(cells) + r" \\" + ("".join(rules) if rules else ""))
    return out


def latex(styler, frame, caption: str | None = None, note: str | None = None) -> str:
    """The table as LaTeX (see the module doc), under its caption and above ``note``."""
    header, body, index_columns = displayed_cells(styler, frame)
    shown = [c for k, c in enumerate(frame.columns) if k not in set(styler.hidden_columns)]
    numeric = [False] * index_columns + [frame[c].dtype.kind in "iufc" for c in shown]
    fit = layout(header, body, numeric)
    spec = "".join(
        (r">{\raggedleft\arraybackslash}" if num else r">{\raggedright\arraybackslash}")
        + rf"p{{\dimexpr {w:.4f}\linewidth-2\tabcolsep\relax}}" for num, w in zip(numeric, fit.widths))
    head = _header_rows(header, index_columns)
    rows = [" & ".join(escape(cell) for cell in row) + r" \\" for row in body]
    line = dict(FONTS)[fit.font] * (LANDSCAPE if fit.landscape else 1)
    lines = [r"\begin{landscape}"] if fit.landscape else []
    lines += [r"\begingroup", rf"\{fit.font}", r"\setlength{\tabcolsep}{3pt}"]
    if _height(body, [w * line for w in fit.widths]) + len(header) <= WHOLE_LINES:
        # short: a tabular, kept whole where it stands (a longtable beside a figure can push text
        # past the foot of the page)
        lines.append(r"\begin{center}")
        if caption:
            lines.append(rf"\parbox{{\linewidth}}{{\centering {escape(caption)}}}\par\smallskip")
        lines += [rf"\begin{{tabular}}{{@{{}}{spec}@{{}}}}", r"\toprule", *head, r"\midrule", *rows,
                  r"\bottomrule", r"\end{tabular}", r"\end{center}"]
    else:
        columns = len(numeric)
        lines += [r"\setlength{\LTpre}{4pt}", r"\setlength{\LTpost}{2pt}", r"\setlength{\LTcapwidth}{\linewidth}",
                  rf"\begin{{longtable}}{{@{{}}{spec}@{{}}}}"]
        if caption:
            lines.append(rf"\caption*{{{escape(caption)}}}\\")
        lines += [r"\toprule", *head, r"\midrule", r"\endfirsthead",
                  rf"\multicolumn{{{columns}}}{{@{{}}l}}{{\emph{{(continued)}}}}\\", r"\toprule", *head, r"\midrule",
                  r"\endhead", r"\bottomrule", r"\endlastfoot", *rows, r"\end{longtable}"]
    if note:
        lines.append(rf"\vspace{{-2pt}}\noindent{{\footnotesize {escape(note)}}}\par")
    lines.append(r"\endgroup")
    if fit.landscape:
        lines.append(r"\end{landscape}")
    return "\n".join(lines)


def _height(body, widths_chars: list[float]) -> int:
    """Lines the body takes: each row as many as its most wrapped cell."""
    return sum(max(math.ceil(len(cell) / max(1.0, w - PADDING)) for cell, w in zip(row, widths_chars)) or 1
               for row in body)


def myst_block(tex: str) -> str:
    """``tex`` as a MyST raw LaTeX block (the form of a ``text/markdown`` output that the LaTeX
    build passes through; the book renders markdown outputs as MyST)."""
    fence = "`" * 3
    return f"{fence}{{raw}} latex\n{tex}\n{fence}\n"


def no_rows(caption: str) -> str:
    """What the PDF says where a profile leaves a table empty."""
    return rf"\par\noindent\emph{{{escape(caption)}: no rows in this profile.}}\par"
