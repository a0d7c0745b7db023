"""Figures of the chapter "Study A beyond the paper". Each takes report rows and returns a Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hdmann.methods import plotting  # the book's one style, applied on import
from hdmann.methods.plotting import MAX_WIDTH

COLOURS = plotting.OKABE_ITO[:6] + ("#000000",)  # yellow left out: too pale for a line on white
METHOD_LINES = ("-", "--", ":", "-.")
SALIENCY_NAMES = {"grad_cam": "Grad-CAM", "input_gradients": "input gradients"}  # as the prose names them


def _ticks(levels):
    return ["orig." if lv == "original" else lv for lv in levels]


def train_test_matrix(train_levels, test_levels, matrix) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 0.5 * len(train_levels) + 1.6))
    im = ax.imshow(matrix, cmap="viridis", vmin=0.25, vmax=max(0.8, float(np.nanmax(matrix))))
    ax.set_xticks(range(len(test_levels)), _ticks(test_levels))
    ax.set_yticks(range(len(train_levels)), _ticks(train_levels))
    for i in range(len(train_levels)):
        for j in range(len(test_levels)):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=plotting.MIN_FONT,
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
    """Four panels, two by two: output drift, nearest-key change, rank correlation and top overlap of
    maps; each point a mean with its 95 % interval, dashed: the same measure for the mirrored original."""
    fig, axes = plt.subplots(2, 2, figsize=(MAX_WIDTH, 5.6))
    axes = axes.flat
    ref = {r["level"]: r for r in drift_rows}["flipped"]
    _with_reference(axes[0], drift_rows, "rms_distance", "rms_low", "rms_high", ref["rms_distance"], COLOURS[0], "")
    axes[0].set_title("RMS distance of the output\nfrom the uncompressed output")
    _with_reference(axes[1], drift_rows, "key_changed", "changed_low", "changed_high", ref["key_changed"], COLOURS[0], "")
    axes[1].set_title("share of images whose\nnearest key changes")
    for colour, method in zip(COLOURS[1:], ("grad_cam", "input_gradients")):
        rows = [r for r in saliency_rows if r["method"] == method]
        if not rows:
            continue
        mirrored = {r["level"]: r for r in rows}["flipped"]
        name = SALIENCY_NAMES.get(method, method)
        _with_reference(axes[2], rows, "rank_corr", "rank_low", "rank_high", mirrored["rank_corr"], colour, name)
        _with_reference(axes[3], rows, "top_overlap", "top_low", "top_high", mirrored["top_overlap"], colour, name)
    axes[2].set_title("saliency rank correlation\nwith the uncompressed map")
    axes[3].set_title("saliency top-10 % overlap\nwith the uncompressed map")
    plotting.legend(axes[3])
    for ax in axes[2:]:
        ax.set_xlabel("JPEG level")
    fig.tight_layout()
    return fig


def map_grid(images, maps: dict, levels) -> plt.Figure:
    """Rows: each image under each method; columns: JPEG levels. ``images``: (levels, n, H, W, 3);
    ``maps``: method -> level -> (n, H, W)."""
    methods = list(maps)
    n = images.shape[1]
    size = min(1.5, (MAX_WIDTH - 1.6) / len(levels))  # room for the row names and the colour bar
    fig, axes = plt.subplots(n * len(methods), len(levels), figsize=(size * len(levels) + 1.6, (size + 0.05) * n * len(methods) + 0.4),
                             squeeze=False, layout="constrained")
    image = None
    for i in range(n):
        for m, method in enumerate(methods):
            row = i * len(methods) + m
            for j, level in enumerate(levels):
                ax = axes[row, j]
                ax.imshow(images[j, i])
                image = ax.imshow(maps[method][level][i], cmap="inferno", alpha=0.55, vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                if row == 0:
                    ax.set_title(_ticks([level])[0])
                if j == 0:
                    ax.set_ylabel(f"image {i + 1}\n{SALIENCY_NAMES.get(method, method)}", fontsize=plotting.MIN_FONT)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.5, label="saliency, share of the map's peak")
    return fig


def addition_curves(rows, level: str = "original", methods=("mean-l2", "majority-hamming", "probe")) -> plt.Figure:
    """Accuracy on the new class and on the old classes vs k, each key-writing rule beside the probe:
    a colour per added class, a line style per rule, explained in two legends below the panels."""
    sources = sorted({(r["source"], r["class"]) for r in rows})
    legend_lines = max(len(sources), len(methods)) + 1  # a title and the longer of the two legends
    height = 3.2 + 0.19 * legend_lines
    fig, axes = plt.subplots(1, 2, figsize=(MAX_WIDTH, height), sharey=True)
    classes, rules = {}, {}
    for (source, cls), colour in zip(sources, COLOURS * 3):
        for method, style in zip(methods, METHOD_LINES):
            sel = [r for r in rows if r["source"] == source and r["class"] == cls and r["method"] == method
                   and r["level"] == level]
            if not sel:
                continue
            ks = [str(r["k"]) for r in sel]
            axes[0].plot(ks, [r["new_accuracy"] for r in sel], style, marker="o", ms=3.5, color=colour)
            axes[1].plot(ks, [r["old_accuracy"] for r in sel], style, marker="o", ms=3.5, color=colour)
            classes[f"{cls.replace('_', ' ')} ({source})"] = colour
            rules[method] = style
    axes[0].set_title("recall of the added class")
    axes[1].set_title("accuracy on the old classes")
    for ax in axes:
        ax.set_xlabel("k images given for the new class")
        ax.set_ylim(-0.03, 1.03)  # a rule at exactly 0 or 1 stays visible, not hidden in the frame
    axes[0].set_ylabel("accuracy")
    # only what was drawn: a class or rule with no rows at this level gets no entry
    class_handles = [plt.Line2D([], [], color=c, marker="o", ms=3.5) for c in classes.values()]
    rule_handles = [plt.Line2D([], [], color="#555555", ls=s) for s in rules.values()]
    bottom = (0.19 * (max(len(classes), len(rules)) + 1) + 0.1) / height if class_handles else 0
    if class_handles:  # both legends hang from the same line under the panels
        fig.legend(class_handles, list(classes), loc="upper left", bbox_to_anchor=(0.0, bottom), title="added class")
        fig.legend(rule_handles, list(rules), loc="upper right", bbox_to_anchor=(1.0, bottom), title="key rule")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


def selective_curves(rows) -> plt.Figure:
    """Accuracy on the images kept against the share abstained on, a panel per model, a line per level
    (one JPEG level legend under both panels, off the curves)."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    levels = list(dict.fromkeys(r["level"] for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(MAX_WIDTH, 3.7), sharey=True, squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, model in zip(axes[0], models):
        for k, level in enumerate(levels):
            sel = [r for r in rows if r["model"] == model and r["level"] == level]
            # viridis up to 0.85: its last yellow is too pale for a line on white
            ax.plot([1 - r["coverage"] for r in sel], [r["accuracy"] for r in sel],
                    color=cmap(0.85 * k / max(1, len(levels) - 1)), label=_ticks([level])[0])
        ax.set_title(plotting.wrap(model, 28))
        ax.set_xlabel("share of images abstained on")
    axes[0, 0].set_ylabel("accuracy on the rest")
    legend = plotting.legend(fig, list(axes[0]), loc="lower center", ncol=min(len(levels), 8), title="JPEG level")
    fig.tight_layout(rect=(0, 0.17 if legend else 0, 1, 1))
    return fig


def dimension_panels(rows) -> plt.Figure:
    """Accuracy per level for each D (top, full width); cost per epoch and key margin per D (below)."""
    dims = sorted({r["dim"] for r in rows})
    levels = list(dict.fromkeys(r["level"] for r in rows))
    fig = plt.figure(figsize=(MAX_WIDTH, 5.8))
    grid = fig.add_gridspec(2, 2)
    top, cost, margin = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    for k, (dim, colour) in enumerate(zip(dims, COLOURS * 2)):
        sel = [r for r in rows if r["dim"] == dim]
        v = np.array([r["accuracy"] for r in sel])
        nudge = 0.08 * (k - (len(dims) - 1) / 2)  # each D beside the others at a level, so the bars stay apart
        top.errorbar(np.arange(len(sel)) + nudge, v, yerr=[v - [r["ci_low"] for r in sel], [r["ci_high"] for r in sel] - v],
                     marker="o", capsize=2, color=colour, label=f"D = {dim}")
    top.set_xticks(range(len(levels)), _ticks(levels))
    top.set_xlabel("test JPEG level")
    top.set_ylabel("accuracy")
    plotting.legend(top, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(len(dims), 4))  # above the data
    first = [next(r for r in rows if r["dim"] == d) for d in dims]
    cost.plot([str(d) for d in dims], [r["cpu_seconds_per_epoch"] for r in first], marker="o")
    cost.set_xlabel("D")
    cost.set_ylabel("CPU seconds per epoch\n(median, after the first)")
    margin.plot([str(d) for d in dims], [r["key_margin_scaled"] for r in first], marker="o")
    margin.set_xlabel("D")
    margin.set_ylabel("key margin / sqrt(D)\non originals")
    fig.tight_layout()
    return fig


def colour_versus_hdmann(rows) -> plt.Figure:
    """Accuracy per level of the colour-only baseline and of HD-MANN, each with its 95 % interval as error
    bars, the two nudged apart (overlapping translucent bands would blend into a third colour)."""
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 3.4))
    x = np.arange(len(rows))
    for shift, (name, label, colour) in zip((-0.08, 0.08), (("colour", "colour thumbnails + logistic regression", COLOURS[3]),
                                                             ("hdmann_study_a", "HD-MANN (Study A model)", COLOURS[0]))):
        v = np.array([r[name] for r in rows])
        err = [v - np.array([r[f"{name}_low"] for r in rows]), np.array([r[f"{name}_high"] for r in rows]) - v]
        ax.errorbar(x + shift, v, yerr=err, marker="o", capsize=3, color=colour, label=label)
    ax.axhline(0.25, color="grey", ls="--", lw=1, label="chance (4 classes)")
    ax.set_xticks(x, _ticks([r["level"] for r in rows]))
    ax.set_xlabel("test JPEG level")
    ax.set_ylabel("accuracy (validation part)")
    ax.set_ylim(0, 1)
    plotting.legend(ax, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2)  # above the data, never on it
    fig.tight_layout()
    return fig
