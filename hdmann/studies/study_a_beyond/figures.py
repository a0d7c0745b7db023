"""Figures of the chapter "Study A beyond the paper". Each takes report rows and returns a Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

COLOURS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _ticks(levels):
    return ["orig." if lv == "original" else lv for lv in levels]


def train_test_matrix(train_levels, test_levels, matrix) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(train_levels) + 1.6))
    im = ax.imshow(matrix, cmap="viridis", vmin=0.25, vmax=max(0.8, float(np.nanmax(matrix))))
    ax.set_xticks(range(len(test_levels)), _ticks(test_levels))
    ax.set_yticks(range(len(train_levels)), _ticks(train_levels))
    for i in range(len(train_levels)):
        for j in range(len(test_levels)):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] < 0.5 else "black",
                    fontweight="bold" if train_levels[i] == test_levels[j] else "normal")
    ax.set_xlabel("test JPEG level")
    ax.set_ylabel("training JPEG level")
    fig.colorbar(im, ax=ax, shrink=0.8, label="accuracy")
    fig.tight_layout()
    return fig


def _with_reference(ax, rows, value, low, high, reference, colour, label):
    graded = [r for r in rows if r["level"] != "flipped"]
    x = np.arange(len(graded))
    v = np.array([r[value] for r in graded])
    ax.errorbar(x, v, yerr=[v - np.array([r[low] for r in graded]), np.array([r[high] for r in graded]) - v],
                marker="o", color=colour, capsize=2, label=label)
    ax.axhline(reference, color=colour, ls="--", lw=1, alpha=0.7)
    ax.set_xticks(x, _ticks([r["level"] for r in graded]))


def drift_and_saliency(drift_rows, saliency_rows) -> plt.Figure:
    """Four panels: output drift, nearest-key change, rank correlation and top overlap of maps; each
    point a mean with its 95 % interval, dashed: the same measure for the mirrored original."""
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.1))
    ref = {r["level"]: r for r in drift_rows}["flipped"]
    _with_reference(axes[0], drift_rows, "rms_distance", "rms_low", "rms_high", ref["rms_distance"], COLOURS[0], "")
    axes[0].set_title("RMS distance of the output\nfrom the uncompressed output")
    _with_reference(axes[1], drift_rows, "key_changed", "changed_low", "changed_high", ref["key_changed"], COLOURS[0], "")
    axes[1].set_title("share of images whose\nnearest key changes")
    for colour, method in zip(COLOURS[1:], ("grad_cam", "input_gradients")):
        rows = [r for r in saliency_rows if r["method"] == method]
        mirrored = {r["level"]: r for r in rows}["flipped"]
        _with_reference(axes[2], rows, "rank_corr", "rank_low", "rank_high", mirrored["rank_corr"], colour, method)
        _with_reference(axes[3], rows, "top_overlap", "top_low", "top_high", mirrored["top_overlap"], colour, method)
    axes[2].set_title("saliency rank correlation\nwith the uncompressed map")
    axes[3].set_title("saliency top-10 % overlap\nwith the uncompressed map")
    axes[3].legend(frameon=False, fontsize=7)
    for ax in axes:
        ax.set_xlabel("JPEG level")
    fig.tight_layout()
    return fig


def map_grid(images, maps: dict, levels) -> plt.Figure:
    """Rows: each image under each method; columns: JPEG levels. ``images``: (levels, n, H, W, 3);
    ``maps``: method -> level -> (n, H, W)."""
    methods = list(maps)
    n = images.shape[1]
    fig, axes = plt.subplots(n * len(methods), len(levels), figsize=(1.5 * len(levels), 1.5 * n * len(methods)),
                             squeeze=False)
    for i in range(n):
        for m, method in enumerate(methods):
            row = i * len(methods) + m
            for j, level in enumerate(levels):
                ax = axes[row, j]
                ax.imshow(images[j, i])
                ax.imshow(maps[method][level][i], cmap="inferno", alpha=0.55, vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                if row == 0:
                    ax.set_title(_ticks([level])[0], fontsize=8)
                if j == 0:
                    ax.set_ylabel(f"image {i + 1}\n{method}", fontsize=7)
    fig.tight_layout()
    return fig


def addition_curves(rows, level: str = "original", methods=("mean-l2", "majority-hamming", "probe")) -> plt.Figure:
    """Accuracy on the new class and on the old classes vs k, each key-writing rule beside the probe."""
    sources = sorted({(r["source"], r["class"]) for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
    for (source, cls), colour in zip(sources, COLOURS * 3):
        for method, style in zip(methods, ("-", "--", ":", "-.")):
            sel = [r for r in rows if r["source"] == source and r["class"] == cls and r["method"] == method
                   and r["level"] == level]
            ks = [str(r["k"]) for r in sel]
            axes[0].plot(ks, [r["new_accuracy"] for r in sel], style, marker="o", color=colour,
                         label=f"{cls} ({method})")
            axes[1].plot(ks, [r["old_accuracy"] for r in sel], style, marker="o", color=colour)
    axes[0].set_title("recall of the added class")
    axes[1].set_title("accuracy on the old classes")
    for ax in axes:
        ax.set_xlabel("k images given for the new class")
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(frameon=False, fontsize=6.5, ncol=2)
    fig.tight_layout()
    return fig


def selective_curves(rows) -> plt.Figure:
    models = list(dict.fromkeys(r["model"] for r in rows))
    levels = list(dict.fromkeys(r["level"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.2), sharey=True, squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, model in zip(axes[0], models):
        for k, level in enumerate(levels):
            sel = [r for r in rows if r["model"] == model and r["level"] == level]
            ax.plot([1 - r["coverage"] for r in sel], [r["accuracy"] for r in sel],
                    color=cmap(k / max(1, len(levels) - 1)), label=_ticks([level])[0])
        ax.set_title(model, fontsize=8)
        ax.set_xlabel("share of images abstained on")
    axes[0, 0].set_ylabel("accuracy on the rest")
    axes[0, -1].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def dimension_panels(rows) -> plt.Figure:
    dims = sorted({r["dim"] for r in rows})
    levels = list(dict.fromkeys(r["level"] for r in rows))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.1))
    for dim, colour in zip(dims, COLOURS):
        sel = [r for r in rows if r["dim"] == dim]
        v = np.array([r["accuracy"] for r in sel])
        axes[0].errorbar(range(len(sel)), v, yerr=[v - [r["ci_low"] for r in sel], [r["ci_high"] for r in sel] - v],
                         marker="o", capsize=2, color=colour, label=f"D = {dim}")
    axes[0].set_xticks(range(len(levels)), _ticks(levels))
    axes[0].set_xlabel("test JPEG level")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(frameon=False, fontsize=7)
    first = [next(r for r in rows if r["dim"] == d) for d in dims]
    axes[1].plot([str(d) for d in dims], [r["cpu_seconds_per_epoch"] for r in first], marker="o")
    axes[1].set_xlabel("D")
    axes[1].set_ylabel("CPU seconds per epoch (median, after the first)")
    axes[2].plot([str(d) for d in dims], [r["key_margin_scaled"] for r in first], marker="o")
    axes[2].set_xlabel("D")
    axes[2].set_ylabel("key margin / sqrt(D) on originals")
    fig.tight_layout()
    return fig


def colour_versus_hdmann(rows) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    x = np.arange(len(rows))
    for name, label, colour in (("colour", "colour thumbnails + logistic regression", COLOURS[3]),
                                ("hdmann_study_a", "HD-MANN (Study A model)", COLOURS[0])):
        v = np.array([r[name] for r in rows])
        ax.plot(x, v, marker="o", color=colour, label=label)
        ax.fill_between(x, [r[f"{name}_low"] for r in rows], [r[f"{name}_high"] for r in rows], color=colour, alpha=0.15)
    ax.axhline(0.25, color="grey", ls="--", lw=1, label="chance (4 classes)")
    ax.set_xticks(x, _ticks([r["level"] for r in rows]))
    ax.set_xlabel("test JPEG level")
    ax.set_ylabel("accuracy (validation part)")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig
