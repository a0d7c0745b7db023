"""Lossy codecs through Pillow, each reporting what it actually did.

Every call returns the decoded pixels and the encoded size, from which the achieved
compression ratio (raw bytes / encoded bytes) and bits per pixel follow, plus PSNR and SSIM
against the input. Targets are never assumed to be met: JPEG 2000 rate control stops at the
codestream's header floor, so very high target ratios cannot be reached on small images.
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import correlate1d

from hdmann.engine import parallel

CODECS = ("jpeg", "jpeg2000", "webp")
CODEC_SETTING = {"jpeg": "quality", "jpeg2000": "target ratio", "webp": "quality"}


@dataclass(frozen=True)
class Compressed:
    pixels: np.ndarray  # decoded uint8, same shape as the input
    codec: str
    setting: float  # quality (jpeg, webp) or target compression ratio (jpeg2000)
    encoded_bytes: int
    raw_bytes: int
    psnr: float
    ssim: float

    @property
    def ratio(self) -> float:
        return self.raw_bytes / self.encoded_bytes

    @property
    def bpp(self) -> float:
        pixels = self.pixels.shape[0] * self.pixels.shape[1]
        return 8.0 * self.encoded_bytes / pixels


QUALITY_RANGE = {"jpeg": (1, 100), "webp": (0, 100)}  # libjpeg clamps 0 to 1, so 0 would be recorded wrongly
SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")
SSIM_SIGMA, SSIM_TRUNCATE = 1.5, 3.5  # an 11x11 Gaussian window
SSIM_BORDER = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)  # 5: pixels whose window leaves the image


def _check(codec: str, setting) -> float:
    """The setting as the codec will use it: qualities are whole numbers in range, ratios finite and > 1."""
    if codec not in CODECS:
        raise ValueError(f"codec={codec!r}: use one of {CODECS}")
    if isinstance(setting, (bool, np.bool_)) or not isinstance(setting, (int, float, np.integer, np.floating)):
        raise ValueError(f"{codec} {CODEC_SETTING[codec]}={setting!r} is not a number")
    if codec in QUALITY_RANGE:
        low, high = QUALITY_RANGE[codec]
        if not math.isfinite(setting) or setting != int(setting):
            raise ValueError(f"{codec} quality={setting} is not a whole number: Pillow would truncate it to "
                             f"{int(setting) if math.isfinite(setting) else '?'} while the result recorded "
                             f"{setting}; use an integer in {low}..{high}")
        if not low <= setting <= high:
            raise ValueError(f"{codec} quality={setting} is out of range: use an integer in {low}..{high}")
        return int(setting)
    if not math.isfinite(setting) or not setting > 1:
        raise ValueError(f"jpeg2000 target ratio={setting} is out of range: use a finite ratio > 1 "
                         "(raw bytes / encoded bytes)")
    return float(setting)


def _check_pixels(image: np.ndarray, what: str = "image") -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3) \
            or (image.ndim == 3 and image.shape[2] != 3) or image.size == 0:
        raise ValueError(f"{what}: expected uint8 (H, W) or (H, W, 3) pixels, got "
                         f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}")


def encode(image: np.ndarray, codec: str, setting: float, subsampling: str = "4:2:0") -> bytes:
    """Encode uint8 pixels (H, W) or (H, W, 3) with the smallest container Pillow offers."""
    setting = _check(codec, setting)
    _check_pixels(image)
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(f"subsampling={subsampling!r}: use one of {SUBSAMPLINGS}")
    img = Image.fromarray(image)
    buf = io.BytesIO()
    if codec == "jpeg":
        kwargs = {"subsampling": subsampling} if image.ndim == 3 else {}
        img.save(buf, "JPEG", quality=setting, optimize=True, **kwargs)
    elif codec == "webp":
        img.save(buf, "WEBP", quality=setting, method=6)
    else:  # a raw J2K codestream: no JP2 boxes, the lowest header floor
        img.save(buf, "JPEG2000", quality_mode="rates", quality_layers=[setting],
                 irreversible=True, no_jp2=True)
    return buf.getvalue()


def decode(data: bytes, mode: str) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert(mode), dtype=np.uint8)


def _pair(a: np.ndarray, b: np.ndarray) -> None:
    """Both 8-bit pictures of exactly one shape: no broadcasting, no other peak than 255."""
    _check_pixels(a, "first image")
    _check_pixels(b, "second image")
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
        _check_pixels(a, "first image")
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


def compress(image: np.ndarray, codec: str, setting: float, subsampling: str = "4:2:0") -> Compressed:
    setting = _check(codec, setting)
    data = encode(image, codec, setting, subsampling)
    pixels = decode(data, "L" if image.ndim == 2 else "RGB")
    return Compressed(pixels, codec, float(setting), len(data), image.size, psnr(image, pixels), ssim(image, pixels))


def reached(achieved_ratio: float, target_ratio: float, tolerance: float = 0.10) -> bool:
    """A target ratio counts as reached if the achieved one is no more than ``tolerance`` short of it."""
    return achieved_ratio >= (1 - tolerance) * target_ratio


PARALLEL_MIN_PIXELS = 50_000_000  # less work than this is faster in-process than shipped to workers
STAT_FIELDS = ("encoded_bytes", "raw_bytes", "ratio", "bpp", "psnr", "ssim")


def _resize(pixels: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or pixels.shape[:2] == (size, size):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR))


def _work(job):
    source, mode, codec, setting, out_size, subsampling = job
    if isinstance(source, (str, Path)):
        from hdmann.engine.data import read_image
        source = read_image(Path(source), mode)
    if codec is None:
        return _resize(source, out_size), (source.nbytes, source.nbytes, 1.0, 8.0 * source.itemsize *
                                           (source.size // (source.shape[0] * source.shape[1])),
                                           float("inf"), 1.0)
    c = compress(source, codec, setting, subsampling)
    return _resize(c.pixels, out_size), (c.encoded_bytes, c.raw_bytes, c.ratio, c.bpp, c.psnr, c.ssim)


def compress_many(sources, codec: str | None, setting: float = 0, *, mode: str = "RGB",
                  out_size: int | None = None, subsampling: str = "4:2:0",
                  workers: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Compress images (arrays or files) in worker processes.

    Statistics are measured at the stored resolution; the decoded pixels are then resized to
    ``out_size`` (as a model would see them). ``codec=None`` passes images through unchanged.
    """
    if codec is not None:
        setting = _check(codec, setting)
        if subsampling not in SUBSAMPLINGS:
            raise ValueError(f"subsampling={subsampling!r}: use one of {SUBSAMPLINGS}")
    sources = list(sources)
    if not sources:
        raise ValueError("compress_many got no images: check the data selection (e.g. max_films, max_isic_images)")
    jobs = [(s, mode, codec, setting, out_size, subsampling) for s in sources]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    first = sources[0] if sources else np.zeros(0)
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
    source, mode, codec, settings, subsampling = job
    if isinstance(source, (str, Path)):
        from hdmann.engine.data import read_image
        source = read_image(Path(source), mode)
    reference, measured, rows = SsimReference(source), {}, []
    for setting in settings:
        data = encode(source, codec, setting, subsampling)
        if data not in measured:
            pixels = decode(data, "L" if source.ndim == 2 else "RGB")
            measured[data] = (psnr(source, pixels), reference.score(pixels))
        n = len(data)
        rows.append((n, source.size, source.size / n, 8.0 * n / (source.shape[0] * source.shape[1]), *measured[data]))
    return rows


def ladder_stats(sources, codec: str, settings, *, mode: str = "RGB", subsampling: str = "4:2:0",
                 workers: int | None = None) -> dict[float, dict[str, np.ndarray]]:
    """:func:`compress_many`'s statistics of every image at each of ``settings`` (no pixels kept):
    ``{setting: {stat: values}}``, identical to one ``compress_many`` per setting, at less cost."""
    settings = [_check(codec, s) for s in settings]
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(f"subsampling={subsampling!r}: use one of {SUBSAMPLINGS}")
    sources = list(sources)
    if not sources:
        raise ValueError("ladder_stats got no images: check the data selection (e.g. max_films, max_isic_images)")
    jobs = [(src, mode, codec, tuple(settings), subsampling) for src in sources]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    results = parallel.fork_map(_ladder_work, jobs, workers if len(jobs) >= 8 else 1)
    return {s: {f: np.array([r[i][j] for r in results], dtype=np.float64) for j, f in enumerate(STAT_FIELDS)}
            for i, s in enumerate(settings)}
