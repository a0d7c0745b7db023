"""The data and compression chapters' figures: examples per class, films with their lesion circles, ladders."""
from __future__ import annotations

import matplotlib.pyplot as plt

from hdmann.methods import plotting  # the book's one style, applied on import


def class_examples(images, titles) -> plt.Figure:
    """Fig 1 of study A: one example per class, in one row; each class name whole, on two lines if long."""
    fig, axes = plotting.image_axes(len(images), len(images), 2.2, min_panel=1.4)
    for ax, img, title in zip(axes, images, titles):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
        ax.set_title(plotting.wrap(title, 16))
    fig.tight_layout()
    return fig


def films_with_circles(films, lesions, names, original_size: int = 1024) -> plt.Figure:
    """Films side by side with the radiologist's circles."""
    fig, axes = plotting.image_axes(len(films), len(films), 2.4, min_panel=1.4)  # short titles: one row of four fits
    for ax, film, circles, name in zip(axes, films, lesions, names):
        ax.imshow(film, cmap="gray", vmin=0, vmax=255)
        plotting.draw_circles(ax, circles, film.shape[0] / original_size)
        ax.set_title(name)
    fig.tight_layout()
    return fig


def codec_label(name: str, c) -> str:
    """A ladder panel's title: what the codec achieved, not what it was asked for, in short lines so four
    panels fit a row (a 180 px image is then shown at about its own size)."""
    return f"{name}\n{c.bpp:.3g} bpp, {c.ratio:,.0f}:1\nPSNR {c.psnr:.1f} dB\nSSIM {c.ssim:.3f}"


def ladder(images, titles, per_row: int = 7, size: float = 2.0, zoom=None) -> plt.Figure:
    """A compression ladder: the same image at each level, labelled with what the codec achieved.
    ``zoom`` = (x0, y0, x1, y1) shows only that window (in pixels) of each image."""
    fig, axes = plotting.image_axes(len(images), per_row, size, min_panel=1.45)
    for ax, img, title in zip(axes, images, titles):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        if zoom is not None:
            x0, y0, x1, y1 = zoom
            ax.set_xlim(x0, x1)
            ax.set_ylim(y1, y0)
        ax.set_title(title, fontsize=plotting.MIN_FONT)
    fig.tight_layout()
    return fig
