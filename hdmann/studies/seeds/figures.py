"""The seeds page's figure: each number's seeds around their mean."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hdmann.methods import plotting
from hdmann.methods.plotting import MAX_WIDTH

CITED, OTHER = plotting.OKABE_ITO[0], "#999999"  # blue: numbers the prose cites; grey: table and matrix cells


def seed_deviations(values: list[dict], titles: dict[str, str]):
    """One panel per chapter: each seed-dependent number's per-seed values minus their mean (dots),
    so the spread a seed adds reads off one axis."""
    chapters = list(dict.fromkeys(r["chapter"] for r in values))
    fig, axes = plt.subplots(1, len(chapters), figsize=(MAX_WIDTH, 3.6), squeeze=False)
    for ax, chapter in zip(axes[0], chapters):
        rows = [r for r in values if r["chapter"] == chapter and len(r["values"]) > 1]
        for i, r in enumerate(rows):
            v = np.asarray(r["values"], float)
            ax.plot(v - v.mean(), np.full(len(v), i), "o", ms=3.5, color=CITED if r["glued"] else OTHER, alpha=0.8)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks([])
        ax.set_ylim(-1, max(len(rows), 1))
        ax.set_title(plotting.wrap(titles.get(chapter, chapter), 18))
        ax.set_xlabel("seed minus\nseed mean")
        ax.xaxis.set_major_locator(plt.MaxNLocator(3, symmetric=True))
        if not rows:  # an empty panel would read as "no spread"; it means "one seed, nothing to measure"
            ax.set_xticks([])
            ax.text(0.5, 0.5, "one seed in\nthis profile:\nno spread", ha="center", va="center", transform=ax.transAxes)
    axes[0][0].set_ylabel("one row per number")
    fig.tight_layout()
    return fig
