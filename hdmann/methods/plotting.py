"""Figures for the book. Each function takes computed results and returns a matplotlib Figure.

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
import numpy as np
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


def _fit(per_row: int, size: float, min_panel: float = MIN_PANEL) -> tuple[int, float]:
    """Panels per row and panel size that keep a grid within MAX_WIDTH without shrinking below min_panel."""
    per_row = max(1, min(per_row, int(MAX_WIDTH // min_panel)))
    return per_row, min(size, MAX_WIDTH / per_row)


def _image_axes(n: int, per_row: int, size: float = 2.0):
    per_row, size = _fit(min(per_row, n), size)
    rows = -(-n // per_row)
    fig, axes = plt.subplots(rows, per_row, figsize=(size * per_row, size * rows + 0.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes.flat


def class_examples(images, titles) -> plt.Figure:
    """Fig 1 of study A: one example per class."""
    fig, axes = _image_axes(len(images), len(images), 2.2)
    for ax, img, title in zip(axes, images, titles):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _draw_circles(ax, lesions, scale: float) -> None:
    """The radiologist's circles, given in film pixels, on an image shown ``scale`` times the film size."""
    for les in lesions:
        ax.add_patch(Circle((les.x * scale - 0.5, les.y * scale - 0.5), les.radius * scale,
                            fill=False, color="cyan", lw=1))


def films_with_circles(films, lesions, names, original_size: int = 1024) -> plt.Figure:
    """Films side by side with the radiologist's circles."""
    fig, axes = _image_axes(len(films), len(films), 2.4)
    for ax, film, circles, name in zip(axes, films, lesions, names):
        ax.imshow(film, cmap="gray", vmin=0, vmax=255)
        _draw_circles(ax, circles, film.shape[0] / original_size)
        ax.set_title(name)
    fig.tight_layout()
    return fig


def codec_label(name: str, c) -> str:
    """A ladder panel's title: what the codec achieved, not what it was asked for."""
    return f"{name}\n{c.bpp:.3g} bpp, {c.ratio:,.0f}:1\nPSNR {c.psnr:.1f} dB, SSIM {c.ssim:.3f}"


def ladder(images, titles, per_row: int = 7, size: float = 2.0, zoom=None) -> plt.Figure:
    """A compression ladder: the same image at each level, labelled with what the codec achieved.
    ``zoom`` = (x0, y0, x1, y1) shows only that window (in pixels) of each image."""
    fig, axes = _image_axes(len(images), per_row, size)
    for ax, img, title in zip(axes, images, titles):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        if zoom is not None:
            x0, y0, x1, y1 = zoom
            ax.set_xlim(x0, x1)
            ax.set_ylim(y1, y0)
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def training_curves(history: dict, best_epoch: int, title: str = "") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax.plot(epochs, history["loss"], label="training loss")
    ax.plot(epochs, history["val_loss"], label="validation loss")
    ax.axvline(best_epoch, color="grey", ls=":", label=f"restored (epoch {best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE to the class key")
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def accuracy_vs_quality(rows, title: str = "", chance: float | None = None) -> plt.Figure:
    """Fig 4 of study A: accuracy with 95 % bootstrap intervals per JPEG level, one line per split."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for split, style in SPLIT_STYLE.items():
        part = [r for r in rows if r["split"] == split]
        if not part:
            continue
        x = np.arange(len(part)) + (0.06 if split == "test" else -0.06)
        y = np.array([r["accuracy"] for r in part])
        err = np.array([[r["accuracy"] - r["ci_low"] for r in part], [r["ci_high"] - r["accuracy"] for r in part]])
        ax.errorbar(x, y, yerr=err, capsize=3, **style)
        labels = ["original" if r["level"] == "original" else f"q{r['quality']}" for r in part]
    ax.set_xticks(np.arange(len(labels)), labels)
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
    ax.set_ylim(0, 1)
    ax.set_xlabel("JPEG quality (decreasing)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, pad=24 if title else 6)
    ax.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3)  # above the data, never on it
    fig.tight_layout()
    return fig


def tsne_panels(points: dict, labels, key_points: dict, class_names, per_row: int = 4) -> plt.Figure:
    """Fig 3 of study A: one t-SNE map per JPEG level, coloured by class, class keys as stars."""
    levels = list(points)
    per_row, size = _fit(min(per_row, len(levels)), 3.0, 2.2)
    rows = -(-len(levels) // per_row)
    spare_slot = rows * per_row > len(levels)
    fig, axes = plt.subplots(rows, per_row, figsize=(size * per_row, size * rows + (0 if spare_slot else 0.5)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, level in zip(axes.flat, levels):
        for c, name in enumerate(class_names):
            sel = labels == c
            ax.scatter(*points[level][sel].T, s=14, alpha=0.75, color=CLASS_COLOURS[c], marker=CLASS_MARKERS[c],
                       lw=0, label=name)
            ax.scatter(*key_points[level][c], s=180, marker="*", color=CLASS_COLOURS[c], edgecolor="black", lw=0.8)
        ax.set_title(level)
    handles = [plt.Line2D([], [], ls="", marker=CLASS_MARKERS[c], color=CLASS_COLOURS[c]) for c in range(len(class_names))]
    handles.append(plt.Line2D([], [], ls="", marker="*", markersize=12, color="white", markeredgecolor="black"))
    spare = list(axes.flat)[len(levels):]
    if spare:  # the legend fills the grid's first empty slot
        spare[0].legend(handles, [*class_names, "class key"], loc="center", frameon=False)
        fig.tight_layout()
    else:
        ncol = len(class_names) + 1 if len(class_names) < 4 else (len(class_names) + 2) // 2
        fig.legend(handles, [*class_names, "class key"], loc="lower center", ncol=ncol, frameon=False)
        fig.tight_layout(rect=(0, 0.5 / (size * rows + 0.5) + 0.03, 1, 1))
    return fig


def confusion_grid(matrices: dict, class_names, per_row: int = 4) -> plt.Figure:
    levels = list(matrices)
    per_row, size = _fit(min(per_row, len(levels)), 2.6, 2.1)
    rows = -(-len(levels) // per_row)
    fig, axes = plt.subplots(rows, per_row, figsize=(size * per_row, size * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    short = [n[:3] for n in class_names]
    for ax, level in zip(axes.flat, levels):
        m = matrices[level]
        top = max(1, m.sum(1).max())
        ax.axis("on")
        ax.imshow(m, cmap="cividis", vmin=0, vmax=top)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=8,
                        color="black" if m[i, j] > 0.55 * top else "white")
        ax.set_xticks(range(len(short)), short, fontsize=8)
        ax.set_yticks(range(len(short)), short, fontsize=8)
        ax.set_title(level)
    fig.supxlabel("predicted class")
    fig.supylabel("true class")
    fig.tight_layout()
    return fig


def _level_axis(levels):
    return np.arange(len(levels)), ["orig." if lv == "original" else lv.replace("cr", "") for lv in levels]


def metric_vs_ratio(series: dict, metric: str, title: str = "", baseline: float | None = None,
                    baseline_label: str = "") -> plt.Figure:
    """AUROC or AUPRC per compression level, mean over folds with a +-1 SD band, one line per series."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for (name, rows), colour in zip(series.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        x, ticks = _level_axis([r["test_level"] for r in rows])
        m = np.array([r[metric] for r in rows])
        sd = np.array([r[f"{metric}_sd"] for r in rows])
        ax.plot(x, m, marker="o", color=colour, label=name)
        ax.fill_between(x, m - sd, m + sd, color=colour, alpha=0.15)
        for k in range(len(rows[0][f"{metric}_folds"])):
            ax.scatter(x, [r[f"{metric}_folds"][k] for r in rows], s=5, color=colour, alpha=0.35)
    ax.set_xticks(x, ticks)
    if baseline is not None:
        ax.axhline(baseline, color="grey", ls="--", lw=1, label=baseline_label)
    ax.set_ylim(0, 1)
    ax.set_xlabel("compression ratio (target)")
    ax.set_ylabel(metric.upper())
    ax.set_title(title, pad=40 if title else 6)
    ax.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2)  # above the data, never on it
    fig.tight_layout()
    return fig


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


def saliency_grid(films, maps_by_level: dict, lesions, input_size: int, original_size: int = 1024,
                  names=None) -> plt.Figure:
    """Each film, then its saliency map at each level, the radiologist's circle drawn. One row per
    film; with more levels than fit the book's width legibly, one column per film instead."""
    levels = list(maps_by_level)
    n = len(films)
    panels = len(levels) + 1
    transposed = MAX_WIDTH / panels < 1.1 and n < panels
    rows, cols = (panels, n) if transposed else (n, panels)
    size = min(1.9, MAX_WIDTH / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    if transposed:
        axes = axes.T  # axes[film, panel] either way
    scale = input_size / original_size
    for i in range(n):
        axes[i, 0].imshow(films[i], cmap="gray", vmin=0, vmax=255)
        for j, level in enumerate(levels):
            ax = axes[i, j + 1]
            ax.imshow(films[i], cmap="gray", vmin=0, vmax=255)
            ax.imshow(maps_by_level[level][i].astype(np.float32), cmap="inferno", alpha=0.55, vmin=0, vmax=1)
        for j in range(panels):
            _draw_circles(axes[i, j], lesions[i], scale)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            for side in axes[i, j].spines.values():
                side.set_visible(False)
    panel_names = ["film", *levels]
    for j, label in enumerate(panel_names):  # level names along the first film's edge
        if transposed:
            axes[0, j].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
        elif j:
            axes[0, j].set_title(label, fontsize=8)
    if names is not None:
        for i in range(n):
            if transposed:
                axes[i, 0].set_title(names[i], fontsize=8)
            else:
                axes[i, 0].set_ylabel(names[i], fontsize=8)
    fig.tight_layout()
    return fig
