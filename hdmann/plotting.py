"""Figures for the book. Each function takes computed results and returns a matplotlib Figure."""
from __future__ import annotations

# No matplotlib.use() here: in a notebook kernel the inline backend must stay, or glued figures
# lose their PNG; without a display matplotlib falls back to Agg by itself.
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle

CLASS_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd")
SPLIT_STYLE = {"val": dict(color="#1f77b4", marker="o", label="validation part"),
               "test": dict(color="#ff7f0e", marker="s", label="test folder")}

plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.spines.top": False,
                     "axes.spines.right": False, "font.size": 9, "axes.titlesize": 9})


def _image_axes(n: int, per_row: int, size: float = 2.0):
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
        ax.set_title(title, fontsize=7.5)
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
    ax.set_title(title)
    ax.legend(frameon=False, loc="lower left")
    fig.tight_layout()
    return fig


def tsne_panels(points: dict, labels, key_points: dict, class_names, per_row: int = 4) -> plt.Figure:
    """Fig 3 of study A: one t-SNE map per JPEG level, coloured by class, class keys as stars."""
    levels = list(points)
    rows = -(-len(levels) // per_row)
    fig, axes = plt.subplots(rows, per_row, figsize=(3 * per_row, 3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, level in zip(axes.flat, levels):
        for c, name in enumerate(class_names):
            sel = labels == c
            ax.scatter(*points[level][sel].T, s=6, alpha=0.7, color=CLASS_COLOURS[c], label=name)
            ax.scatter(*key_points[level][c], s=180, marker="*", color=CLASS_COLOURS[c], edgecolor="black", lw=0.8)
        ax.set_title(level)
    handles = [plt.Line2D([], [], ls="", marker="o", color=CLASS_COLOURS[c]) for c in range(len(class_names))]
    handles.append(plt.Line2D([], [], ls="", marker="*", markersize=12, color="white", markeredgecolor="black"))
    fig.legend(handles, [*class_names, "class key"], loc="lower center", ncol=len(class_names) + 1, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def confusion_grid(matrices: dict, class_names, per_row: int = 4) -> plt.Figure:
    levels = list(matrices)
    rows = -(-len(levels) // per_row)
    fig, axes = plt.subplots(rows, per_row, figsize=(2.6 * per_row, 2.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    short = [n[:3] for n in class_names]
    for ax, level in zip(axes.flat, levels):
        m = matrices[level]
        ax.axis("on")
        ax.imshow(m, cmap="Blues", vmin=0, vmax=max(1, m.sum(1).max()))
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(short)), short, fontsize=7)
        ax.set_yticks(range(len(short)), short, fontsize=7)
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
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7.5)
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
    """One row per film: the film, then its saliency map at each level, the radiologist's circle drawn."""
    levels = list(maps_by_level)
    n = len(films)
    fig, axes = plt.subplots(n, len(levels) + 1, figsize=(1.9 * (len(levels) + 1), 1.9 * n), squeeze=False)
    scale = input_size / original_size
    for i in range(n):
        axes[i, 0].imshow(films[i], cmap="gray", vmin=0, vmax=255)
        if names is not None:
            axes[i, 0].set_title(names[i], fontsize=7)
        for j, level in enumerate(levels):
            ax = axes[i, j + 1]
            ax.imshow(films[i], cmap="gray", vmin=0, vmax=255)
            ax.imshow(maps_by_level[level][i].astype(np.float32), cmap="inferno", alpha=0.55, vmin=0, vmax=1)
            if i == 0:
                ax.set_title(level, fontsize=8)
        for j in range(len(levels) + 1):
            _draw_circles(axes[i, j], lesions[i], scale)
            axes[i, j].axis("off")
    fig.tight_layout()
    return fig
