"""What every figure of the book shares; each study's own figures are in its ``figures`` module.

One style for all of them (``resources/hdmann.mplstyle``, applied on import). Figures are at most
``MAX_WIDTH`` inches wide, the book's text column, so they are shown unscaled and their text (never
under ``MIN_FONT``) stays legible at 100 % zoom; grids of panels wrap onto more rows instead of
growing wider. Colours are colour-blind safe: Okabe-Ito for classes and lines (classes also differ by
marker), viridis/cividis/inferno for maps, each map with a labelled colour bar. The helpers below keep
the rules a reader would otherwise trip over: log axes label round values that do not collide
(``log_axis``), counts get whole-number ticks (``count_axis``), and legends list only what is drawn
(``legend``).
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib as mpl
# No matplotlib.use() here: in a notebook kernel the inline backend must stay, or glued figures
# lose their PNG; without a display matplotlib falls back to Agg by itself.
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.collections import Collection, PathCollection
from matplotlib.container import Container
from matplotlib.figure import FigureBase
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

STYLE = Path(__file__).resolve().parents[1] / "resources" / "hdmann.mplstyle"
plt.style.use(STYLE)

MAX_WIDTH = 6.1  # inches: the width figures get in the book (672 px at a 1,280 px window) at the style's 110 dpi
MIN_PANEL = 1.6  # inches: the narrowest image panel whose title lines (a ladder's: up to four) stay apart
MIN_FONT = 8.0  # points: the smallest text of any figure (about 12 px on the page)
# Okabe-Ito, in the style's cycle order: blue, vermillion, bluish green, reddish purple, orange, sky blue,
# yellow, black; a module reads its colours here, not from rcParams at import (which may precede the style)
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
CLASS_COLOURS = OKABE_ITO[:4]
CLASS_MARKERS = ("o", "s", "^", "D")
SPLIT_STYLE = {"val": dict(color="#0072B2", marker="o", label="validation part"),
               "test": dict(color="#D55E00", marker="s", label="test folder")}


def fit_grid(per_row: int, size: float, min_panel: float = MIN_PANEL) -> tuple[int, float]:
    """Panels per row and panel size that keep a grid within MAX_WIDTH without shrinking below min_panel."""
    per_row = max(1, min(per_row, int(MAX_WIDTH // min_panel)))
    return per_row, min(size, MAX_WIDTH / per_row)


def image_axes(n: int, per_row: int, size: float = 2.0, min_panel: float = MIN_PANEL):
    per_row, size = fit_grid(min(per_row, n), size, min_panel)
    rows = -(-n // per_row)
    fig, axes = plt.subplots(rows, per_row, figsize=(size * per_row, size * rows + 0.7 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes.flat


def draw_circles(ax, lesions, scale: float) -> None:
    """The radiologist's circles, given in film pixels, on an image shown ``scale`` times the film size."""
    for les in lesions:
        ax.add_patch(Circle((les.x * scale - 0.5, les.y * scale - 0.5), les.radius * scale,
                            fill=False, color="cyan", lw=1))


def wrap(label: str, width: int = 12) -> str:
    """A long label on several lines (whole words), never cut: "Pigmented benign keratosis" ->
    "Pigmented\nbenign\nkeratosis"."""
    return "\n".join(textwrap.wrap(label, width, break_long_words=False)) or label


def number(value: float, pos=None) -> str:
    """A tick label in plain notation, 0.05, 0.2, 1.5 or 10,000, never 2×10⁻¹ (a reader of a bpp or
    ratio axis wants the number)."""
    if not np.isfinite(value):
        return ""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return np.format_float_positional(value, precision=3, unique=True, fractional=False, trim="-")


# widths of characters in DejaVu Sans (the style's font), in ems: enough to tell whether labels collide
_EM = {**dict.fromkeys("0123456789", 0.64), ",": 0.32, ".": 0.32, "-": 0.36, "−": 0.84}


def label_width(text: str, size: float) -> float:
    """Inches a one-line label of ``size`` points takes."""
    return sum(_EM.get(ch, 0.6) for ch in text) * size / 72


class LogTicks(mticker.LogLocator):
    """Major ticks of a log axis at round values: as many as the axis has room for with labels apart.

    Matplotlib's own locator labels the minor ticks of a narrow log range in scientific notation, and
    those labels run together ("2×10⁻¹3×10⁻¹4×10⁻¹"). Here the candidates run from every few decades,
    through 1-2-5 and finer steps within each decade, to evenly spaced round values for a range inside
    one decade; the candidate with the most ticks in view whose labels (``number``) keep ``GAP`` apart
    on this axis, at its length and tick label size, wins. It is computed at each draw, so the ticks
    follow the data range and the panel's size rather than hand-placed values."""

    MANTISSAS = ((1,), (1, 3), (1, 2, 5), (1, 2, 3, 5), (1, 2, 3, 4, 5, 6, 8))
    GAP = 0.12  # inches of free space between neighbouring labels
    SPACING = 0.45  # inches of axis per tick at most: denser ticks read as a ruler, not as values

    def __init__(self):
        super().__init__(base=10.0)

    def _room(self) -> tuple[float, float, bool]:
        """The axis' length in inches, its tick label size in points, and whether it is vertical."""
        axis = self.axis
        vertical = getattr(axis, "axis_name", "x") == "y"
        size = FontProperties(size=mpl.rcParams["ytick.labelsize" if vertical else "xtick.labelsize"]).get_size_in_points()
        axes = getattr(axis, "axes", None)
        if axes is None:
            return 3.0, size, vertical
        box, (w, h) = axes.get_position(), axes.figure.get_size_inches()
        return (box.height * h if vertical else box.width * w), size, vertical

    def fits(self, ticks, vmin: float, vmax: float) -> bool:
        """Whether labels at ``ticks`` leave ``GAP`` between neighbours on this axis, with no more
        than one tick per ``SPACING``."""
        if len(ticks) < 2:
            return True
        length, size, vertical = self._room()
        if len(ticks) > max(2, int(length / self.SPACING)):
            return False
        pos = (np.log10(ticks) - math.log10(vmin)) / (math.log10(vmax) - math.log10(vmin)) * length
        extent = np.array([1.2 * size / 72 if vertical else label_width(number(t), size) for t in ticks])
        return bool(np.min(np.diff(pos) - (extent[:-1] + extent[1:]) / 2) >= self.GAP)

    def tick_values(self, vmin, vmax):
        vmin, vmax = sorted((float(vmin), float(vmax)))
        if not (np.isfinite(vmin) and np.isfinite(vmax) and vmin > 0 and vmax > vmin):
            return super().tick_values(vmin, vmax)
        lo, hi = math.floor(math.log10(vmin)), math.ceil(math.log10(vmax))
        # (ticks, whether every other one is still evenly spaced: so for half decades and linear steps,
        # not for 1-2-5, whose every other tick would skip a decade's 1)
        candidates = [([10.0 ** k for k in range(lo, hi + 1) if k % every == 0], False) for every in (4, 3, 2)]
        candidates += [([m * 10.0 ** k for k in range(lo, hi + 1) for m in subs], subs == (1, 3)) for subs in self.MANTISSAS]
        candidates += [(mticker.MaxNLocator(n, steps=[1, 2, 2.5, 5, 10]).tick_values(vmin, vmax), True) for n in (2, 3, 4, 6)]
        best: list[float] = []
        for ticks, thinnable in candidates:
            inside = sorted({float(t) for t in ticks if vmin * (1 - 1e-9) <= t <= vmax * (1 + 1e-9)})
            for chosen in ((inside, inside[::2], inside[1::2]) if thinnable else (inside,)):
                if len(chosen) > len(best) and self.fits(chosen, vmin, vmax):
                    best = chosen
        if not best:  # a range too narrow for even two labels: one round value in the middle
            best = [float(f"{math.sqrt(vmin * vmax):.2g}")]
        return np.array(best)


def log_axis(axis) -> None:
    """Round, plain, non-colliding labels on a log-scaled ``axis`` (``ax.xaxis``, a secondary axis'
    ``xaxis``); minor ticks stay, unlabelled."""
    axis.set_major_locator(LogTicks())
    axis.set_major_formatter(mticker.FuncFormatter(number))
    axis.set_minor_formatter(mticker.NullFormatter())


def count_axis(axis) -> None:
    """Whole-number ticks for an axis of counts (epochs, images): never "2.5 epochs"."""
    axis.set_major_locator(mticker.MaxNLocator(integer=True))


def has_data(artist) -> bool:
    """Whether an artist shows at least one finite point: a line, bars, a band, an error bar."""
    if isinstance(artist, Container):
        return any(has_data(child) for child in artist.get_children())
    if isinstance(artist, Line2D):
        xy = np.asarray(artist.get_xydata(), float)
        return bool(xy.size) and bool(np.isfinite(xy).all(axis=-1).any())
    if isinstance(artist, PathCollection):  # a scatter: its points are the offsets, its path the marker
        offsets = np.asarray(artist.get_offsets(), float)
        return bool(offsets.size) and bool(np.isfinite(offsets).all(axis=-1).any())
    if isinstance(artist, Collection):  # error bar lines, bands: the data are the paths
        return any(len(p.vertices) and np.isfinite(p.vertices).all(axis=-1).any() for p in artist.get_paths())
    return True


def legend(target, axes=None, **kwargs):
    """A legend of the series actually drawn: a model absent from a profile, or one whose values are
    all missing, gets no entry. ``target`` is an Axes (its own series) or a Figure (the series of
    ``axes``, default all of its axes, each label once). Returns None, and draws no empty box, when
    nothing with a label was drawn."""
    if isinstance(target, FigureBase):
        sources = axes if axes is not None else target.axes
    else:
        sources = axes if axes is not None else [target]
    handles, labels = [], []
    for ax in sources:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels and has_data(handle):
                handles.append(handle)
                labels.append(label)
    if not handles:
        return None
    return target.legend(handles, labels, **kwargs)
