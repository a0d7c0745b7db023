"""Figures of the codec chapter: rate-accuracy and rate-quality curves, one line per codec."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hdmann.engine import codecs
from hdmann.methods import plotting
from hdmann.methods.plotting import MAX_WIDTH

# Okabe-Ito colours, one per codec, fixed across every figure of the chapter
COLOURS = {"jpeg420": "#0072B2", "jpeg444": "#56B4E9", "jpeg2000": "#D55E00", "webp": "#009E73",
           "avif": "#CC79A7", "jxl": "#E69F00"}
MARKERS = {"jpeg420": "o", "jpeg444": "s", "jpeg2000": "D", "webp": "^", "avif": "v", "jxl": "P"}


def _style(codec: str) -> dict:
    return dict(color=COLOURS.get(codec, "black"), marker=MARKERS.get(codec, "o"),
                label=codecs.CODECS[codec].label if codec in codecs.CODECS else codec)


def _lines(ax, curve: dict, key: str, intervals: bool) -> None:
    """One line per codec; with ``intervals``, each point's 95 % interval as an error bar in the codec's
    colour (six translucent bands on one axis blend into one grey, bars stay apart)."""
    for codec, points in curve.items():
        if codec == "original" or not points:
            continue
        x = np.array([p["bpp"] for p in points])
        y = np.array([p[key] for p in points])
        if intervals:
            err = np.array([y - [p["low"] for p in points], np.array([p["high"] for p in points]) - y])
            ax.errorbar(x, y, yerr=np.clip(err, 0, None), lw=1.2, ms=4, capsize=2, elinewidth=0.9, **_style(codec))
        else:
            ax.plot(x, y, lw=1.2, ms=4, **_style(codec))
    ax.set_xscale("log")
    plotting.log_axis(ax.xaxis)


def _bottom_legend(fig, axes, rows_room: float) -> None:
    """The codecs' legend under the panels, in as many columns as the width holds."""
    legend = plotting.legend(fig, axes, loc="lower center", ncol=4, frameon=False)
    fig.tight_layout(rect=(0, rows_room if legend else 0, 1, 1))


def rate_accuracy(panels: dict, ylabel: dict, ranges: dict | None = None, bytes_per_unit: dict | None = None,
                  unit: str = "image") -> plt.Figure:
    """One panel per metric (``{title: curve}``): value vs mean bpp per codec with its 95 % interval
    (error bars), originals as a dashed line with a grey band, the common bpp range between dotted
    lines. ``bytes_per_unit`` (per panel: pixels / 8) adds a top axis in bytes per ``unit``."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(MAX_WIDTH, 3.9), squeeze=False)
    for ax, (title, curve) in zip(axes[0], panels.items()):
        _lines(ax, curve, "value", intervals=True)
        ref = curve["original"]
        ax.axhline(ref["value"], color="black", ls="--", lw=0.9, label="originals (band: 95 % interval)")
        ax.axhspan(ref["low"], ref["high"], color="grey", alpha=0.15, lw=0)
        if ranges and ranges.get(title):
            for edge in ranges[title]:
                ax.axvline(edge, color="#555555", ls=":", lw=0.9)
        ax.set_xlabel("bits per pixel (mean)")
        ax.set_ylabel(ylabel[title])
        ax.set_title(title, pad=24 if bytes_per_unit else 6)
        if bytes_per_unit and bytes_per_unit.get(title):
            scale = bytes_per_unit[title]
            top = ax.secondary_xaxis("top", functions=(lambda b, s=scale: b * s, lambda v, s=scale: v / s))
            plotting.log_axis(top.xaxis)
            top.set_xlabel(f"bytes per {unit}")
    _bottom_legend(fig, list(axes[0]), 0.16)
    return fig


def rate_quality(curve: dict, psnr_label: str, ssim_label: str) -> plt.Figure:
    """PSNR and SSIM against bpp per codec (beside the classifier's curves: where they disagree)."""
    fig, axes = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.3))
    for ax, key, label in ((axes[0], "psnr", psnr_label), (axes[1], "ssim", ssim_label)):
        _lines(ax, curve, key, intervals=False)
        ax.set_xlabel("bits per pixel (mean)")
        ax.set_ylabel(label)
    _bottom_legend(fig, list(axes), 0.16)
    return fig


def _margin_band(ax, margin: float | None) -> None:
    """The practical margin around 0: inside it two codecs count as equal."""
    if margin:
        ax.axvspan(-margin, margin, color="#999999", alpha=0.18, lw=0, label=f"±{margin:g} margin")


def ranking_bars(rankings: dict) -> plt.Figure:
    """BD difference from the reference codec with its 95 % interval (seeds and images resampled), one
    panel per metric, the practical margin shaded around 0."""
    n = len(rankings)
    cols = min(n, 2)
    lines = max(len(r["rows"]) for r in rankings.values())
    fig, axes = plt.subplots(-(-n // cols), cols, figsize=(MAX_WIDTH, (-(-n // cols)) * (1.1 + 0.3 * lines)),
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, (title, rank) in zip(axes.flat, rankings.items()):
        rows = [r for r in rank["rows"] if "bd_vs_reference" in r]
        y = np.arange(len(rows))[::-1]
        for yi, r in zip(y, rows):
            ax.errorbar(r["bd_vs_reference"], yi, xerr=[[r["bd_vs_reference"] - r["bd_low"]], [r["bd_high"] - r["bd_vs_reference"]]],
                        fmt=MARKERS.get(r["name"], "o"), color=COLOURS.get(r["name"], "black"), capsize=2, ms=4)
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        _margin_band(ax, rank.get("bd_margin"))
        ax.xaxis.set_major_locator(plt.MaxNLocator(4))
        ax.set_yticks(y, [r["codec"] for r in rows])
        ax.set_title(plotting.wrap(title, 32))
        ax.set_xlabel("BD difference from " + (codecs.CODECS[rank["reference"]].label if rank["reference"] else "-"))
        if not rows:
            ax.text(0.5, 0.5, "no common bpp range", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def codec_answer(answer: dict) -> plt.Figure:
    """The book's codec question at a glance (the landing page): per study, each codec's BD difference
    from the reference with its 95 % interval (seeds and images resampled), the practical margin shaded
    around 0; Study A's test folder, the held-out check, as hollow markers below each filled one.
    ``answer``: :func:`hdmann.studies.codecs.report.answer`."""
    panels = answer["panels"]
    lines = max(len(r["rows"]) for r in panels.values())
    fig, axes = plt.subplots(1, len(panels), figsize=(MAX_WIDTH, 0.9 + 0.3 * lines), squeeze=False, sharey=False)
    for ax, (title, rank) in zip(axes[0], panels.items()):
        rows = [r for r in rank["rows"] if "bd_vs_reference" in r and r["name"] != rank["reference"]]
        held = {r["name"]: r for r in answer.get("held_out", {}).get(title, {"rows": []})["rows"]
                if "bd_vs_reference" in r}
        y = np.arange(len(rows))[::-1]
        for yi, r in zip(y, rows):
            style = dict(color=COLOURS.get(r["name"], "black"), capsize=2, ms=5)
            ax.errorbar(r["bd_vs_reference"], yi, xerr=[[r["bd_vs_reference"] - r["bd_low"]],
                                                        [r["bd_high"] - r["bd_vs_reference"]]],
                        fmt=MARKERS.get(r["name"], "o"), **style)
            if r["name"] in held:
                h = held[r["name"]]
                ax.errorbar(h["bd_vs_reference"], yi - 0.3, xerr=[[h["bd_vs_reference"] - h["bd_low"]],
                                                                  [h["bd_high"] - h["bd_vs_reference"]]],
                            fmt=MARKERS.get(r["name"], "o"), mfc="white", lw=0.8, **style)
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        _margin_band(ax, answer["bd_margin"])
        ax.set_yticks(y, [f"{r['codec']}: {r['verdict']}" for r in rows], fontsize=7)
        ax.set_ylim(-0.8, len(rows) - 0.4)
        ax.xaxis.set_major_locator(plt.MaxNLocator(5))
        ax.set_title(title + (" (hollow: test folder)" if held else ""), fontsize=8)
        ax.set_xlabel(f"BD difference from {answer['reference']} (seed mean)", fontsize=7)
        if not rows:
            ax.text(0.5, 0.5, "no common bpp range", ha="center", va="center", transform=ax.transAxes, fontsize=8)
    fig.tight_layout()
    return fig
