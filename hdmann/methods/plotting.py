"""What every figure of the book shares; each study's own figures are in its ``figures`` module.

One style for all of them (``resources/hdmann.mplstyle``, applied on import). Figures are at most
``MAX_WIDTH`` inches wide, the book's text column, so their text is not shrunk on the page; grids of
panels wrap onto more rows instead of growing wider. Colours are colour-blind safe: Okabe-Ito for
classes and lines (classes also differ by marker), viridis/cividis/inferno for maps.
"""
from __future__ import annotations

from pathlib import Path

# No matplotlib.use() here: in a notebook kernel the inline backend must stay, or glued figures
# lose their PNG; without a display matplotlib falls back to Agg by itself.
import matplotlib.pyplot as plt
from matplotlib.patches import Circle

STYLE = Path(__file__).resolve().parents[1] / "resources" / "hdmann.mplstyle"
plt.style.use(STYLE)

MAX_WIDTH = 6.8  # inches: the book's text column at the style's dpi, so figures are shown unscaled
MIN_PANEL = 1.6  # inches: the narrowest image panel whose three-line title stays legible
# Okabe-Ito: blue, vermillion, bluish green, reddish purple
CLASS_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
CLASS_MARKERS = ("o", "s", "^", "D")
SPLIT_STYLE = {"val": dict(color="#0072B2", marker="o", label="validation part"),
               "test": dict(color="#D55E00", marker="s", label="test folder")}


def fit_grid(per_row: int, size: float, min_panel: float = MIN_PANEL) -> tuple[int, float]:
    """Panels per row and panel size that keep a grid within MAX_WIDTH without shrinking below min_panel."""
    per_row = max(1, min(per_row, int(MAX_WIDTH // min_panel)))
    return per_row, min(size, MAX_WIDTH / per_row)


def image_axes(n: int, per_row: int, size: float = 2.0):
    per_row, size = fit_grid(min(per_row, n), size)
    rows = -(-n // per_row)
    fig, axes = plt.subplots(rows, per_row, figsize=(size * per_row, size * rows + 0.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes.flat


def draw_circles(ax, lesions, scale: float) -> None:
    """The radiologist's circles, given in film pixels, on an image shown ``scale`` times the film size."""
    for les in lesions:
        ax.add_patch(Circle((les.x * scale - 0.5, les.y * scale - 0.5), les.radius * scale,
                            fill=False, color="cyan", lw=1))
