"""Figures of the Study B patch chapter (AUROC vs level on ratio and bytes axes, patches, maps)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle

from hdmann.methods import plotting  # the book's one style, applied on import

FILM_BYTES = 1024 * 1024  # an 8-bit 1024x1024 mini-MIAS film
DODGE = 0.05  # decades between neighbouring models' points at one level (x 1.12), where the levels leave room
# Okabe-Ito, as every figure of the book: the CNN vermillion (its ensemble the same, hollow and dashed),
# ResNet18 reddish purple, the texture features blue, the brightness shortcut black and dotted
STYLE = {"cnn": dict(color="#D55E00", marker="o"), "cnn_ensemble": dict(color="#D55E00", marker="o", ls="--", mfc="white"),
         "resnet18": dict(color="#CC79A7", marker="D"),
         "features": dict(color="#0072B2", marker="s"), "shortcut": dict(color="#000000", marker="x", ls=":")}


def auroc_vs_level(series: dict, ratios: dict, title: str = "", metric: str = "auroc") -> plt.Figure:
    """One line per (label -> rows of report.performance); x is the achieved median ratio (originals
    at 1:1), the top axis the same positions in bytes per film. Bars: paired-bootstrap 95 % interval
    of the pooled AUROC (``metric='auroc'``) or +-1 SD over folds x repeats (``'auprc'``). Every model
    is tested at the same levels, so each one's points are nudged sideways (``DODGE`` decades at most, a
    few per cent of the ratio) to keep their bars apart. The legend sits under the axes, off the data."""
    fig, ax = plt.subplots(figsize=(plotting.MAX_WIDTH, 4.4))
    drawn = [(label, model, rows) for label, (model, rows) in series.items() if rows]
    # at most half the narrowest gap between levels is spent on the nudges, so no level's group of
    # points reaches into its neighbour's (quick and paper test 15, 20 and 25:1, a tenth of a decade apart)
    gaps = np.diff(np.log10(sorted({ratios[r["level"]] for _, _, rows in drawn for r in rows})))
    step = min([DODGE] + [0.5 * g / (len(drawn) - 1) for g in gaps[gaps > 0] if len(drawn) > 1])
    for k, (label, model, rows) in enumerate(drawn):
        nudge = 10 ** (step * (k - (len(drawn) - 1) / 2))
        x = np.array([ratios[r["level"]] for r in rows]) * nudge
        style = dict(STYLE.get(model, {}))
        if metric == "auroc":
            y = np.array([r["pooled_auroc"] for r in rows])
            err = np.array([[r["pooled_auroc"] - r["auroc_low"] for r in rows], [r["auroc_high"] - r["pooled_auroc"] for r in rows]])
        else:
            y = np.array([r["auprc"] for r in rows])
            err = np.array([r["auprc_sd"] for r in rows])
        ax.errorbar(x, y, yerr=err, capsize=2, lw=1.2, ms=4, label=label, **style)
    ax.set_xscale("log")
    plotting.log_axis(ax.xaxis)
    if metric == "auroc":
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("achieved compression ratio (median over films; originals at 1:1)")
    ax.set_ylabel(metric.upper())
    ax.set_ylim(0.3 if metric == "auroc" else 0, 1.0)
    top = ax.secondary_xaxis("top", functions=(lambda r: FILM_BYTES / np.maximum(r, 1e-9),
                                               lambda b: FILM_BYTES / np.maximum(b, 1e-9)))
    plotting.log_axis(top.xaxis)
    top.set_xlabel("bytes per film")
    ax.set_title(title, pad=28)
    legend = plotting.legend(fig, [ax], loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.15 if legend else 0, 1, 1))
    return fig


def patch_examples(rows_of_patches, row_titles, col_titles, radii=None) -> plt.Figure:
    """A grid of patches (rows: examples, columns: levels), lesion circles drawn where a radius is given."""
    n, m = len(rows_of_patches), len(col_titles)
    size = min(1.6, (plotting.MAX_WIDTH - 0.4) / m)
    fig, axes = plt.subplots(n, m, figsize=(size * m + 0.4, (size + 0.1) * n), squeeze=False)
    for i, row in enumerate(rows_of_patches):
        for j, patch in enumerate(row):
            ax = axes[i, j]
            ax.imshow(patch, cmap="gray", vmin=0, vmax=255)
            s = patch.shape[0]
            if radii is not None and radii[i] > 0:
                ax.add_patch(Circle((s / 2 - 0.5, s / 2 - 0.5), min(radii[i], s), fill=False, color="cyan", lw=0.8))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(col_titles[j], fontsize=plotting.MIN_FONT)
            if j == 0:
                ax.set_ylabel(row_titles[i], fontsize=plotting.MIN_FONT)
    fig.tight_layout()
    return fig


def sliding_grid(films_by_level: dict, maps_by_level: dict, grid: np.ndarray, lesions, peaks_by_level: dict,
                 names) -> plt.Figure:
    """Rows: films; columns: levels. The film at that level, the patch classifier's score map over it,
    the radiologist's circle (cyan) and the map's peak (yellow cross)."""
    levels = list(maps_by_level)
    n = len(names)
    size = min(1.7, (plotting.MAX_WIDTH - 1.2) / len(levels))  # room for the films' names and the colour bar
    fig, axes = plt.subplots(n, len(levels), figsize=(size * len(levels) + 1.2, (size + 0.15) * n + 0.2), squeeze=False,
                             layout="constrained")
    image = None
    step = grid[1] - grid[0] if len(grid) > 1 else 1
    extent = (grid[0] - step / 2, grid[-1] + step / 2, grid[-1] + step / 2, grid[0] - step / 2)
    for j, level in enumerate(levels):
        for i in range(n):
            ax = axes[i, j]
            ax.imshow(films_by_level[level][i], cmap="gray", vmin=0, vmax=255)
            image = ax.imshow(np.ma.masked_invalid(maps_by_level[level][i]), cmap="inferno", alpha=0.5, vmin=0, vmax=1,
                              extent=extent)
            plotting.draw_circles(ax, lesions[i], 1.0)
            px, py = peaks_by_level[level][i]
            ax.plot(px, py, "x", color="yellow", ms=6, mew=1.5)
            ax.set_xlim(0, 1023)
            ax.set_ylim(1023, 0)
            ax.axis("off")
            if i == 0:
                ax.set_title("original" if level == "original" else f"{_level_axis([level])[1][0]}:1")
            if j == 0:
                ax.text(-30, 512, names[i], rotation=90, va="center", ha="right", fontsize=plotting.MIN_FONT)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="patch CNN score (malignant)")
    return fig


def _level_axis(levels):
    """Positions and labels of levels named as the pipeline names them ("original", "cr1000" -> "1,000")."""
    return np.arange(len(levels)), ["orig." if lv == "original" else f"{int(lv.replace('cr', '')):,}" for lv in levels]


def matrix_heatmap(levels, matrix, title: str = "") -> plt.Figure:
    """AUROC per training (rows) and test level (columns); rows never trained are NaN and left blank."""
    fig, ax = plt.subplots(figsize=(5.4, 4.4))
    im = ax.imshow(np.ma.masked_invalid(matrix), cmap="viridis", vmin=0.3, vmax=1.0)
    _, ticks = _level_axis(levels)
    ax.set_xticks(range(len(levels)), ticks)
    ax.set_yticks(range(len(levels)), ticks)
    if len(levels) > 6:  # ratios such as 11,000 side by side need the room of a slant
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    for i in range(len(levels)):
        for j in range(len(levels)):
            if np.isfinite(matrix[i, j]):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=plotting.MIN_FONT,
                        color="white" if matrix[i, j] < 0.65 else "black")
    if not np.isfinite(matrix).any():  # say why, rather than leave a blank square to puzzle over (a mean over
        # folds is NaN when one fold's AUROC is undefined: evaluation.mean_sd never averages it away)
        ax.text(0.5, 0.5, "no AUROC defined in this profile:\na fold with patches of one class has none", ha="center",
                va="center", transform=ax.transAxes)
    ax.set_xlabel("test compression ratio")
    ax.set_ylabel("training compression ratio")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8, label="AUROC")
    fig.tight_layout()
    return fig
