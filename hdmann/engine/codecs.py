"""The archive codecs compared by the codec chapter, each through a maintained library via Pillow.

Every codec has one quality knob (``setting``) and records what it achieved: encoded bytes,
bpp = 8 x bytes / pixels, PSNR and SSIM (:mod:`hdmann.engine.compression`'s helpers). A codec whose library
is missing raises :class:`CodecUnavailable` naming the library and how to install it; nothing
crashes deeper inside Pillow. JPEG XL comes from the ``pillow-jxl-plugin`` package (libjxl), the
others are built into Pillow (libjpeg-turbo, OpenJPEG, libwebp, libavif).
"""
from __future__ import annotations

import importlib
import io
import math
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image, features

from hdmann.engine import compression


@dataclass(frozen=True)
class Codec:
    name: str
    label: str  # as the chapter names it
    library: str  # the library that does the coding
    knob: str  # what ``setting`` means
    low: float  # the knob's allowed range
    high: float
    integer: bool  # the knob is a whole number
    higher_is_smaller: bool  # True for a compression ratio: a larger setting gives fewer bytes


CODECS: dict[str, Codec] = {c.name: c for c in (
    Codec("jpeg420", "JPEG 4:2:0", "libjpeg-turbo", "quality", 1, 100, True, False),
    Codec("jpeg444", "JPEG 4:4:4", "libjpeg-turbo", "quality", 1, 100, True, False),
    Codec("jpeg2000", "JPEG 2000", "OpenJPEG", "target ratio", 1, 1e9, False, True),
    Codec("webp", "WebP", "libwebp", "quality", 0, 100, True, False),
    Codec("avif", "AVIF", "libavif", "quality", 0, 100, True, False),
    Codec("jxl", "JPEG XL", "libjxl (pillow-jxl-plugin)", "quality", 0, 100, False, False),
)}
NAMES = tuple(CODECS)
PILLOW_FEATURE = {"jpeg420": "jpg", "jpeg444": "jpg", "jpeg2000": "jpg_2000", "webp": "webp", "avif": "avif"}
INSTALL = {"jxl": "pip install pillow-jxl-plugin (or pip install -e '.[book]')",
           "avif": "install Pillow >= 11.3 built with libavif (the PyPI wheels are), or pip install pillow-avif-plugin"}


class CodecUnavailable(RuntimeError):
    """The library a codec needs is not installed; the message names it and how to get it."""


def _jxl_plugin():
    try:
        return importlib.import_module("pillow_jxl")
    except ImportError:
        return None


def available(name: str) -> bool:
    spec = _spec(name)
    if spec.name == "jxl":
        return _jxl_plugin() is not None
    return bool(features.check(PILLOW_FEATURE[spec.name]))


def require(name: str) -> Codec:
    """The codec's description, or :class:`CodecUnavailable` naming the missing library."""
    spec = _spec(name)
    if not available(name):
        how = INSTALL.get(spec.name, "install a Pillow built with it (the PyPI wheels are)")
        raise CodecUnavailable(f"codec {spec.label} ({name}) needs {spec.library}, which this Python does not "
                               f"have: {how}. Or leave {name!r} out of the chapter's `codecs` parameter.")
    return spec


def _spec(name: str) -> Codec:
    if name not in CODECS:
        raise ValueError(f"codec={name!r}: use one of {NAMES}")
    return CODECS[name]


def check_setting(name: str, setting) -> float:
    """The setting as the codec uses it: a number in the knob's range, whole where the knob is."""
    spec = _spec(name)
    if isinstance(setting, (bool, np.bool_)) or not isinstance(setting, (int, float, np.integer, np.floating)):
        raise ValueError(f"{spec.label} {spec.knob}={setting!r} is not a number")
    if not math.isfinite(setting):
        raise ValueError(f"{spec.label} {spec.knob}={setting} is not finite")
    if spec.integer and setting != int(setting):
        raise ValueError(f"{spec.label} {spec.knob}={setting} is not a whole number: use an integer in "
                         f"{spec.low:g}..{spec.high:g}")
    if spec.higher_is_smaller and not setting > spec.low:
        raise ValueError(f"{spec.label} {spec.knob}={setting} is out of range: use a ratio > 1")
    if not spec.low <= setting <= spec.high:
        raise ValueError(f"{spec.label} {spec.knob}={setting} is out of range: use {spec.low:g}..{spec.high:g}")
    return int(setting) if spec.integer else float(setting)


@dataclass(frozen=True)
class Effort:
    """Encoder speed presets: slower presets find fewer bytes for the same quality."""

    webp_method: int = 6  # 0 (fast) .. 6 (slowest); Pillow's default is 4
    avif_speed: int = 6  # 0 (slowest) .. 10; libavif's default is 6
    jxl_effort: int = 7  # 1 (fast) .. 9; libjxl's default is 7


def encode(image: np.ndarray, name: str, setting, effort: Effort = Effort()) -> bytes:
    """Encode uint8 (H, W) or (H, W, 3) pixels in the codec's leanest container, one thread."""
    spec = require(name)
    setting = check_setting(name, setting)
    compression._check_pixels(image)
    img = Image.fromarray(image)
    buf = io.BytesIO()
    if spec.name in ("jpeg420", "jpeg444"):
        extra = {"subsampling": "4:2:0" if spec.name == "jpeg420" else "4:4:4"} if image.ndim == 3 else {}
        img.save(buf, "JPEG", quality=setting, optimize=True, **extra)
    elif spec.name == "jpeg2000":  # a raw codestream: no JP2 boxes
        img.save(buf, "JPEG2000", quality_mode="rates", quality_layers=[setting], irreversible=True, no_jp2=True)
    elif spec.name == "webp":
        img.save(buf, "WEBP", quality=setting, method=effort.webp_method)
    elif spec.name == "avif":
        img.save(buf, "AVIF", quality=setting, speed=effort.avif_speed, max_threads=1,
                 **({"subsampling": "4:2:0"} if image.ndim == 3 else {}))
    else:
        _jxl_plugin()  # registers the JXL format with Pillow
        img.save(buf, "JXL", quality=setting, effort=effort.jxl_effort, num_threads=1)
    return buf.getvalue()


def decode(data: bytes, mode: str) -> np.ndarray:
    if data[:2] == b"\xff\x0a" or data[4:7] == b"JXL":
        _jxl_plugin()
    return compression.decode(data, mode)


@dataclass(frozen=True)
class Coded:
    pixels: np.ndarray  # decoded, same shape as the input
    codec: str
    setting: float
    encoded_bytes: int
    psnr: float
    ssim: float

    @property
    def bpp(self) -> float:
        return 8.0 * self.encoded_bytes / (self.pixels.shape[0] * self.pixels.shape[1])


def compress(image: np.ndarray, name: str, setting, effort: Effort = Effort(), metrics: bool = True) -> Coded:
    """Encode, decode and measure (``metrics=False`` skips PSNR and SSIM, for callers that measure
    a part of the image themselves)."""
    data = encode(image, name, setting, effort)
    pixels = decode(data, "L" if image.ndim == 2 else "RGB")
    if pixels.shape != image.shape:
        raise RuntimeError(f"{name} decoded a {pixels.shape} image from a {image.shape} one")
    psnr = compression.psnr(image, pixels) if metrics else float("nan")
    ssim = compression.ssim(image, pixels) if metrics else float("nan")
    return Coded(pixels, name, float(check_setting(name, setting)), len(data), psnr, ssim)


def _jxl_library_version() -> str | None:
    """libjxl's version as the plugin's compiled extension names it (jpegxl-rs bundles libjxl)."""
    plugin = _jxl_plugin()
    if plugin is None:
        return None
    for so in Path(plugin.__file__).parent.glob("pillow_jxl*.so"):
        found = re.search(rb"libjxl-(\d+\.\d+\.\d+)", so.read_bytes())
        if found:
            return found.group(1).decode()
    return None


def versions() -> list[dict]:
    """Per codec: the library that codes it and its version, or that it is missing."""
    rows = []
    for name, spec in CODECS.items():
        if name == "jxl":
            try:
                plugin = metadata.version("pillow-jxl-plugin")
            except metadata.PackageNotFoundError:
                plugin = None
            lib = _jxl_library_version()
            version = None if plugin is None else f"{lib or 'unknown'} (pillow-jxl-plugin {plugin})"
        else:
            feature = PILLOW_FEATURE[name]
            version = features.version("libjpeg_turbo" if feature == "jpg" else feature) if features.check(feature) else None
        ok = available(name)
        rows.append({"codec": name, "label": spec.label, "library": spec.library,
                     "version": (version or "unknown") if ok else "missing", "available": ok})
    return rows
