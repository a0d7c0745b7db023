"""Figures of the Study B patch chapter (AUROC vs level on ratio and bytes axes, patches, maps)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle

from hdmann.methods import plotting  # the book's one style, applied on import

FILM_BYTES = 1024 * 1024  # an 8-bit 1024x1024 mini-MIAS film
STYLE = {"cnn": dict(color="#d62728", marker="o"), "cnn_ensemble": dict(color="#d62728", marker="o", ls="--", mfc="white"),
         "resnet18": dict(color="#9467bd", marker="D"),
         "features": dict(color="#1f77b4", marker="s"), "shortcut": dict(color="#7f7f7f", marker="x", ls=":")}


def auroc_vs_level(series: dict, ratios: dict, title: str = "", metric: str = "auroc") -> plt.Figure:
    """One line per (label -> rows of report.performance); x is the achieved median ratio (originals
    at 1:1), the top axis the same positions in bytes per film. Bars: paired-bootstrap 95 % interval
    of the pooled AUROC (``metric='auroc'``) or +-1 SD over folds x repeats (``'auprc'``)."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for label, (model, rows) in series.items():
        if not rows:
            continue
        x = np.array([ratios[r["level"]] for r in rows])
        style = dict(STYLE.get(model, {}))
        if metric == "auroc":
            y = np.array([r["pooled_auroc"] for r in rows])
            err = np.array([[r["pooled_auroc"] - r["auroc_low"] for r in rows], [r["auroc_high"] - r["pooled_auroc"] for r in rows]])
        else:
            y = np.array([r["auprc"] for r in rows])
            err = np.array([r["auprc_sd"] for r in rows])
        ax.errorbar(x, y, yerr=err, capsize=2, lw=1.2, ms=4, label=label, **style)
    ax.set_xscale("log")
    ax.axhline(0.5 if metric == "auroc" else np.nan, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("achieved compression ratio (median over films; originals at 1:1)")
    ax.set_ylabel(metric.upper())
    ax.set_ylim(0.3 if metric == "auroc" else 0, 1.0)
    top = ax.secondary_xaxis("top", functions=(lambda r: FILM_BYTES / np.maximum(r, 1e-9),
                                               lambda b: FILM_BYTES / np.maximum(b, 1e-9)))
    top.set_xlabel("bytes per film")
    ax.set_title(title, pad=28)
    ax.legend(frameon=False, fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def patch_examples(rows_of_patches, row_titles, col_titles, radii=None) -> plt.Figure:
    """A grid of patches (rows: examples, columns: levels), lesion circles drawn where a radius is given."""
    n, m = len(rows_of_patches), len(col_titles)
    fig, axes = plt.subplots(n, m, figsize=(1.6 * m, 1.7 * n), squeeze=False)
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
                ax.set_title(col_titles[j], fontsize=7)
            if j == 0:
                ax.set_ylabel(row_titles[i], fontsize=7)
    fig.tight_layout()
    return fig


def sliding_grid(films_by_level: dict, maps_by_level: dict, grid: np.ndarray, lesions, peaks_by_level: dict,
                 names) -> plt.Figure:
    """Rows: films; columns: levels. The film at that level, the patch classifier's score map over it,
    the radiologist's circle (cyan) and the map's peak (yellow cross)."""
    levels = list(maps_by_level)
    n = len(names)
    fig, axes = plt.subplots(n, len(levels), figsize=(1.7 * len(levels), 1.8 * n), squeeze=False)
    step = grid[1] - grid[0] if len(grid) > 1 else 1
    extent = (grid[0] - step / 2, grid[-1] + step / 2, grid[-1] + step / 2, grid[0] - step / 2)
    for j, level in enumerate(levels):
        for i in range(n):
            ax = axes[i, j]
            ax.imshow(films_by_level[level][i], cmap="gray", vmin=0, vmax=255)
            ax.imshow(np.ma.masked_invalid(maps_by_level[level][i]), cmap="inferno", alpha=0.5, vmin=0, vmax=1,
                      extent=extent)
            plotting.draw_circles(ax, lesions[i], 1.0)
            px, py = peaks_by_level[level][i]
            ax.plot(px, py, "x", color="yellow", ms=6, mew=1.5)
            ax.set_xlim(0, 1023)
            ax.set_ylim(1023, 0)
            ax.axis("off")
            if i == 0:
                ax.set_title(level, fontsize=8)
            if j == 0:
                ax.text(-30, 512, names[i], rotation=90, va="center", ha="right", fontsize=7)
    fig.tight_layout()
    return fig


def _level_axis(levels):
    return np.arange(len(levels)), ["orig." if lv == "original" else lv.replace("cr", "") for lv in levels]


def matrix_heatmap(levels, matrix, title: str = "") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 4))
    im = ax.imshow(matrix, cmap="viridis", vmin=0.3, vmax=1.0)
    _, ticks = _level_axis(levels)
    ax.set_xticks(range(len(levels)), ticks)
    ax.set_yticks(range(len(levels)), ticks)
    for i in range(len(levels)):
        for j in range(len(levels)):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] < 0.65 else "black")
    ax.set_xlabel("test compression ratio")
    ax.set_ylabel("training compression ratio")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig
