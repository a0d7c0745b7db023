"""Coding images through the codec registry and recording what it achieved, one image or many.

Every result carries the decoded pixels (or only statistics) and the encoded size, from which the
achieved compression ratio (raw bytes / encoded bytes) and bits per pixel follow, plus PSNR and SSIM
against the input. Targets are never assumed to be met: JPEG 2000 rate control stops at the
codestream's header floor, so very high target ratios cannot be reached on small images.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hdmann.engine import codecs, parallel
from hdmann.engine.data import read_image
from hdmann.engine.quality import SsimReference, psnr, ssim

PARALLEL_MIN_PIXELS = 50_000_000  # less work than this is faster in-process than shipped to workers
STAT_FIELDS = ("encoded_bytes", "raw_bytes", "ratio", "bpp", "psnr", "ssim")


@dataclass(frozen=True)
class Coded:
    pixels: np.ndarray  # decoded uint8, same shape as the input
    codec: str  # the name it was asked by
    setting: float  # the knob as the codec used it
    encoded_bytes: int
    raw_bytes: int
    psnr: float
    ssim: float

    @property
    def ratio(self) -> float:
        return self.raw_bytes / self.encoded_bytes

    @property
    def bpp(self) -> float:
        return 8.0 * self.encoded_bytes / (self.pixels.shape[0] * self.pixels.shape[1])


def compress(image: np.ndarray, codec: str, setting, *, metrics: bool = True, **options) -> Coded:
    """Encode, decode and measure (``metrics=False`` skips PSNR and SSIM, for callers that measure a
    part of the image themselves); ``options`` are the codec's own encoder options."""
    data = codecs.encode(image, codec, setting, **options)
    pixels = codecs.decode(data, "L" if image.ndim == 2 else "RGB")
    if pixels.shape != image.shape:
        raise RuntimeError(f"{codec} decoded a {pixels.shape} image from a {image.shape} one")
    return Coded(pixels, codec, float(codecs.check_setting(codec, setting)), len(data), image.size,
                 psnr(image, pixels) if metrics else float("nan"), ssim(image, pixels) if metrics else float("nan"))


def reached(achieved_ratio: float, target_ratio: float, tolerance: float = 0.10) -> bool:
    """A target ratio counts as reached if the achieved one is no more than ``tolerance`` short of it."""
    return achieved_ratio >= (1 - tolerance) * target_ratio


def resize(pixels: np.ndarray, size: int | None) -> np.ndarray:
    """Bilinear to ``size`` x ``size`` (as a model sees an image); ``None`` or the same size: unchanged."""
    if size is None or pixels.shape[:2] == (size, size):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR))


def _checked(codec: str, setting, options: dict) -> float:
    spec = codecs.codec(codec)
    spec.check_options(options)
    return spec.check_setting(setting)


def _work(job):
    source, mode, codec, setting, out_size, options = job
    if isinstance(source, (str, Path)):
        source = read_image(Path(source), mode)
    if codec is None:
        return resize(source, out_size), (source.nbytes, source.nbytes, 1.0, 8.0 * source.itemsize *
                                          (source.size // (source.shape[0] * source.shape[1])),
                                          float("inf"), 1.0)
    c = compress(source, codec, setting, **options)
    return resize(c.pixels, out_size), (c.encoded_bytes, c.raw_bytes, c.ratio, c.bpp, c.psnr, c.ssim)


def compress_many(sources, codec: str | None, setting: float = 0, *, mode: str = "RGB",
                  out_size: int | None = None, workers: int | None = None,
                  **options) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Compress images (arrays or files) in worker processes.

    Statistics are measured at the stored resolution; the decoded pixels are then resized to
    ``out_size`` (as a model would see them). ``codec=None`` passes images through unchanged (and
    ignores ``options``, the codec's encoder options).
    """
    if codec is not None:
        setting = _checked(codec, setting, options)
    sources = list(sources)
    if not sources:
        raise ValueError("compress_many got no images: check the data selection (e.g. max_films, max_isic_images)")
    jobs = [(s, mode, codec, setting, out_size, options if codec is not None else {}) for s in sources]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    first = sources[0]
    heavy = isinstance(first, (str, Path)) or first.size * len(sources) > PARALLEL_MIN_PIXELS
    # small images: process start-up costs more than it saves
    results = parallel.fork_map(_work, jobs, workers if len(jobs) >= 8 and heavy else 1)
    pixels = np.stack([r[0] for r in results])
    stats = {f: np.array([r[1][i] for r in results], dtype=np.float64) for i, f in enumerate(STAT_FIELDS)}
    return pixels, stats


def _ladder_work(job):
    """Worker: one image at every setting. It is read once, its SSIM reference is computed once, and
    a codestream identical to an earlier setting's (JPEG 2000 stops at its header floor, so high
    target ratios give the same bytes) is decoded and measured once."""
    source, mode, codec, settings, options = job
    if isinstance(source, (str, Path)):
        source = read_image(Path(source), mode)
    reference, measured, rows = SsimReference(source), {}, []
    for setting in settings:
        data = codecs.encode(source, codec, setting, **options)
        if data not in measured:
            pixels = codecs.decode(data, "L" if source.ndim == 2 else "RGB")
            measured[data] = (psnr(source, pixels), reference.score(pixels))
        n = len(data)
        rows.append((n, source.size, source.size / n, 8.0 * n / (source.shape[0] * source.shape[1]), *measured[data]))
    return rows


def ladder_stats(sources, codec: str, settings, *, mode: str = "RGB", workers: int | None = None,
                 **options) -> dict[float, dict[str, np.ndarray]]:
    """:func:`compress_many`'s statistics of every image at each of ``settings`` (no pixels kept):
    ``{setting: {stat: values}}``, identical to one ``compress_many`` per setting, at less cost."""
    settings = [_checked(codec, s, options) for s in settings]
    sources = list(sources)
    if not sources:
        raise ValueError("ladder_stats got no images: check the data selection (e.g. max_films, max_isic_images)")
    jobs = [(src, mode, codec, tuple(settings), options) for src in sources]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    results = parallel.fork_map(_ladder_work, jobs, workers if len(jobs) >= 8 else 1)
    return {s: {f: np.array([r[i][j] for r in results], dtype=np.float64) for j, f in enumerate(STAT_FIELDS)}
            for i, s in enumerate(settings)}
