"""Picture quality against an original: PSNR and SSIM for 8-bit pixels, as scikit-image computes them.

Not a codec: the codec registry (:mod:`hdmann.engine.codecs`) codes, these measure what the coding
left, and :mod:`hdmann.engine.coding` uses both over many images.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

from hdmann.engine.codec.base import check_pixels

SSIM_SIGMA, SSIM_TRUNCATE = 1.5, 3.5  # an 11x11 Gaussian window
SSIM_BORDER = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)  # 5: pixels whose window leaves the image


def _pair(a: np.ndarray, b: np.ndarray) -> None:
    """Both 8-bit pictures of exactly one shape: no broadcasting, no other peak than 255."""
    check_pixels(a, "first image")
    check_pixels(b, "second image")
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}; compare images of one shape "
                         "(squeeze a trailing channel of 1 first)")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit pixels (peak 255), as scikit-image's with data_range=255."""
    _pair(a, b)
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _ssim_window() -> np.ndarray:
    """scipy's Gaussian taps for ``gaussian_filter(sigma=SSIM_SIGMA, truncate=SSIM_TRUNCATE)``."""
    x = np.arange(-SSIM_BORDER, SSIM_BORDER + 1, dtype=np.float64)
    w = np.exp(-0.5 / SSIM_SIGMA**2 * x**2)
    return w / w.sum()


SSIM_WINDOW = _ssim_window()


def _gaussian_blur_transposed(image: np.ndarray) -> np.ndarray:
    """``gaussian_filter(image, SSIM_SIGMA, truncate=SSIM_TRUNCATE).T``, faster on a film: both
    passes run along rows (a pass down the columns of a film is three times slower), with one
    transposing copy between them."""
    rows = correlate1d(image, SSIM_WINDOW, axis=1, mode="reflect")
    return correlate1d(np.ascontiguousarray(rows.T), SSIM_WINDOW, axis=1, mode="reflect")


class SsimReference:
    """One image's blurred local moments (x, x^2), computed once and compared with many images: a
    ladder of codec settings measures every decoded copy against the same original. Scores are
    bit-identical to :func:`ssim`'s, which is this class used once."""

    def __init__(self, a: np.ndarray) -> None:
        check_pixels(a, "first image")
        if min(a.shape[:2]) < 2 * SSIM_BORDER + 1:
            raise ValueError(f"SSIM needs images of at least {2 * SSIM_BORDER + 1} px a side, got {a.shape}")
        self.image = a
        x = a.astype(np.float32).reshape(a.shape[0], a.shape[1], -1)
        # each blurred map comes out transposed; the border is the same on both axes, so the mean is unchanged
        self.channels = [(x[..., ch], _gaussian_blur_transposed(x[..., ch]),
                          _gaussian_blur_transposed(x[..., ch] * x[..., ch])) for ch in range(x.shape[2])]

    def score(self, b: np.ndarray) -> float:
        _pair(self.image, b)
        b = b.astype(np.float32).reshape(b.shape[0], b.shape[1], -1)
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        inner = (slice(SSIM_BORDER, -SSIM_BORDER), slice(SSIM_BORDER, -SSIM_BORDER))
        scores = []
        for ch, (x, mx, xx) in enumerate(self.channels):
            y = b[..., ch]
            my, yy, xy = (_gaussian_blur_transposed(m) for m in (y, y * y, x * y))
            vx, vy, cxy = xx - mx**2, yy - my**2, xy - mx * my
            s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
            scores.append(s[inner].astype(np.float64).mean())
        return float(np.mean(scores))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM as Wang et al. (2004) define it, and as scikit-image computes it with
    ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255``: an 11x11
    Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, the SSIM map averaged without the 5-pixel
    border whose windows leave the image; colour images average the channels."""
    _pair(a, b)
    return SsimReference(a).score(b)
