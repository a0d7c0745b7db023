"""Study A's figures: training curves, accuracy per JPEG level (Fig 4), t-SNE maps (Fig 3), confusion matrices."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hdmann.methods import plotting  # the book's one style, applied on import


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
    for split, style in plotting.SPLIT_STYLE.items():
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
    per_row, size = plotting.fit_grid(min(per_row, len(levels)), 3.0, 2.2)
    rows = -(-len(levels) // per_row)
    spare_slot = rows * per_row > len(levels)
    fig, axes = plt.subplots(rows, per_row, figsize=(size * per_row, size * rows + (0 if spare_slot else 0.5)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, level in zip(axes.flat, levels):
        for c, name in enumerate(class_names):
            sel = labels == c
            ax.scatter(*points[level][sel].T, s=14, alpha=0.75, color=plotting.CLASS_COLOURS[c], marker=plotting.CLASS_MARKERS[c],
                       lw=0, label=name)
            ax.scatter(*key_points[level][c], s=180, marker="*", color=plotting.CLASS_COLOURS[c], edgecolor="black", lw=0.8)
        ax.set_title(level)
    handles = [plt.Line2D([], [], ls="", marker=plotting.CLASS_MARKERS[c], color=plotting.CLASS_COLOURS[c]) for c in range(len(class_names))]
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
    per_row, size = plotting.fit_grid(min(per_row, len(levels)), 2.6, 2.1)
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


def two_ladders(ladders: dict, chance: float | None = None) -> plt.Figure:
    """Reporting-half accuracy per paper level on each ladder (label -> accuracy_table rows): the
    paper's quality values coded at the stored size, and the paper's distortion at the input."""
    fig, ax = plt.subplots(figsize=(plotting.MAX_WIDTH, 3.2))
    colours, markers = ("#0072B2", "#D55E00"), ("o", "s")
    labels = []
    for i, (label, rows) in enumerate(ladders.items()):
        part = [r for r in rows if r["split"] == "val"]
        x = np.arange(len(part)) + (i - (len(ladders) - 1) / 2) * 0.08
        y = np.array([r["accuracy"] for r in part])
        err = np.array([[r["accuracy"] - r["ci_low"] for r in part], [r["ci_high"] - r["accuracy"] for r in part]])
        ax.errorbar(x, y, yerr=err, capsize=3, color=colours[i % 2], marker=markers[i % 2], label=label)
        labels = [r["level"] for r in part]
    ax.set_xticks(np.arange(len(labels)), labels)
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
    ax.set_ylim(0, 1)
    ax.set_xlabel("the paper's JPEG level (decreasing quality)")
    ax.set_ylabel("accuracy, seed mean")
    ax.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2)
    fig.tight_layout()
    return fig
