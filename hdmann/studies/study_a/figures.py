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
    plotting.count_axis(ax.xaxis)
    ax.set_ylabel("MSE to the class key")
    ax.set_title(title)
    plotting.legend(ax)
    fig.tight_layout()
    return fig


def accuracy_vs_quality(rows, title: str = "", chance: float | None = None) -> plt.Figure:
    """Fig 4 of study A: accuracy with 95 % bootstrap intervals per JPEG level, one line per split."""
    fig, ax = plt.subplots(figsize=(plotting.MAX_WIDTH, 3.4))
    labels: list[str] = []
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
    plotting.legend(ax, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3)  # above the data, never on it
    fig.tight_layout()
    return fig


def tsne_panels(points: dict, labels, key_points: dict, class_names, per_row: int = 4) -> plt.Figure:
    """Fig 3 of study A: one t-SNE map per JPEG level, coloured by class, class keys as stars."""
    levels = list(points)
    per_row, size = plotting.fit_grid(min(per_row, len(levels)), 3.0, 2.0)
    rows = -(-len(levels) // per_row)
    spare_slot = rows * per_row > len(levels)
    fig, axes = plt.subplots(rows, per_row, figsize=(size * per_row, size * rows + (0 if spare_slot else 0.7)),
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
    present = [c for c in range(len(class_names)) if np.any(labels == c)]  # a class with no image gets no entry
    handles = [plt.Line2D([], [], ls="", marker=plotting.CLASS_MARKERS[c], color=plotting.CLASS_COLOURS[c]) for c in present]
    handles.append(plt.Line2D([], [], ls="", marker="*", markersize=12, color="white", markeredgecolor="black"))
    names = [class_names[c] for c in present] + ["class key"]
    spare = list(axes.flat)[len(levels):]
    if spare:  # the legend fills the grid's first empty slot
        spare[0].legend(handles, [plotting.wrap(n, 22) for n in names], loc="center", frameon=False)
        fig.tight_layout()
    else:
        fig.legend(handles, names, loc="lower center", ncol=min(len(names), 3), frameon=False)
        fig.tight_layout(rect=(0, 0.7 / (size * rows + 0.7) + 0.02, 1, 1))
    return fig


def confusion_grid(matrices: dict, class_names, per_row: int = 3) -> plt.Figure:
    """One confusion matrix per JPEG level (rows: true class), on one colour scale with its labelled
    colour bar. Class names are written whole, wrapped onto two lines: down the left of the first
    column, and upright under each panel with no panel below it (they hang into the grid's empty
    slots). Laid out by hand, so rows are spaced by their titles alone."""
    levels = list(matrices)
    names = [plotting.wrap(n, 17) for n in class_names]
    left, right, gap, title, under = 1.45, 0.8, 0.14, 0.32, 1.05  # inches
    per_row = max(1, min(per_row, len(levels)))
    size = min(2.0, (plotting.MAX_WIDTH - left - right - gap * (per_row - 1)) / per_row)
    rows = -(-len(levels) // per_row)
    height = title + rows * (size + title) + under
    fig = plt.figure(figsize=(plotting.MAX_WIDTH, height))
    top = max(1, max(int(m.max()) for m in matrices.values()))  # one scale: a colour means one count in every panel
    image = None
    for k, level in enumerate(levels):
        row, col = divmod(k, per_row)
        y = height - title - row * (size + title) - size
        ax = fig.add_axes((( left + col * (size + gap)) / plotting.MAX_WIDTH, y / height, size / plotting.MAX_WIDTH, size / height))
        m = matrices[level]
        image = ax.imshow(m, cmap="cividis", vmin=0, vmax=top)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=plotting.MIN_FONT,
                        color="black" if m[i, j] > 0.55 * top else "white")
        below = k + per_row < len(levels)  # a panel below takes the predicted classes' names
        ax.set_xticks(range(len(names)), [] if below else names, rotation=90, fontsize=plotting.MIN_FONT)
        ax.set_yticks(range(len(names)), names if col == 0 else [], fontsize=plotting.MIN_FONT)
        ax.set_title(level)
    fig.text(0.5 * (left + plotting.MAX_WIDTH - right) / plotting.MAX_WIDTH, 0.05 / height, "predicted class",
             ha="center", va="bottom", fontsize=plt.rcParams["axes.labelsize"])
    fig.text(0.05 / plotting.MAX_WIDTH, 0.5, "true class", rotation=90, ha="left", va="center",
             fontsize=plt.rcParams["axes.labelsize"])
    if image is not None:
        span = min(rows, 2) * (size + title) - title
        bar = fig.add_axes(((plotting.MAX_WIDTH - right + 0.15) / plotting.MAX_WIDTH, (height - title - span) / height,
                            0.12 / plotting.MAX_WIDTH, span / height))
        plotting.count_axis(fig.colorbar(image, cax=bar, label="images (summed over seeds)").ax.yaxis)
    return fig


def two_ladders(ladders: dict, chance: float | None = None) -> plt.Figure:
    """Reporting-half accuracy per paper level on each ladder (label -> accuracy_table rows): the
    paper's quality values coded at the stored size, and the paper's distortion at the input."""
    fig, ax = plt.subplots(figsize=(plotting.MAX_WIDTH, 3.4))
    colours, markers = ("#0072B2", "#D55E00"), ("o", "s")
    labels = []
    for i, (label, rows) in enumerate(ladders.items()):
        part = [r for r in rows if r["split"] == "val"]
        x = np.arange(len(part)) + (i - (len(ladders) - 1) / 2) * 0.1
        y = np.array([r["accuracy"] for r in part])
        err = np.array([[r["accuracy"] - r["ci_low"] for r in part], [r["ci_high"] - r["accuracy"] for r in part]])
        ax.errorbar(x, y, yerr=err, capsize=3, color=colours[i % 2], marker=markers[i % 2], label=label)
        labels = ["orig." if r["level"] == "original" else r["level"] for r in part]
    ax.set_xticks(np.arange(len(labels)), labels)
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance (4 classes)")
    ax.set_ylim(0, 1)
    ax.set_xlabel("JPEG level of the paper (quality falls to the right)")
    ax.set_ylabel("accuracy, seed mean")
    plotting.legend(ax, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=1)
    fig.tight_layout()
    return fig
