"""What a codec module declares (:class:`Codec`), and the checks every codec shares.

A codec is one library's lossy coder behind one knob (``setting``): a quality, a target ratio, a
distance. Its module builds a :class:`Codec` with the knob's range, the ladders the studies sweep, its
encoder options with their defaults, and how to tell whether its library is here and which version.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from PIL import features, Image


class CodecUnavailable(RuntimeError):
    """The library a codec needs is not installed; the message names it and how to get it."""


def check_pixels(image: np.ndarray, what: str = "image") -> None:
    """8-bit grey (H, W) or RGB (H, W, 3) pixels, the only kind the codecs and metrics take."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3) \
            or (image.ndim == 3 and image.shape[2] != 3) or image.size == 0:
        raise ValueError(f"{what}: expected uint8 (H, W) or (H, W, 3) pixels, got "
                         f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}")


def pillow_decode(data: bytes, mode: str) -> np.ndarray:
    """Decode with whatever Pillow recognises, converted to ``mode`` ("L" or "RGB")."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert(mode), dtype=np.uint8)


def pillow_encode(img: Image.Image, fmt: str, **params) -> bytes:
    """``img`` saved by Pillow's ``fmt`` writer with ``params``, as bytes."""
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def pillow_feature(feature: str, version_of: str | None = None) -> tuple[Callable[[], bool], Callable[[], str | None]]:
    """``(available, version)`` of a coder built into Pillow: whether ``feature`` is compiled in, and the
    version of ``version_of`` (default: the same feature) when it is."""
    def available() -> bool:
        return bool(features.check(feature))

    def version() -> str | None:
        return features.version(version_of or feature) if available() else None
    return available, version


@dataclass(frozen=True)
class Codec:
    """One codec as the registry sees it.

    ``save(img, pixels, setting, **options)`` returns the encoded bytes for a Pillow image (``pixels``
    is the same picture as an array, for codecs whose options depend on grey or colour); ``setting``
    is already checked and ``options`` are the codec's ``options`` with the caller's values merged in.
    """

    name: str
    label: str  # as the book names it
    library: str  # the library that does the coding
    knob: str  # what ``setting`` means
    low: float  # the knob's allowed range
    high: float
    integer: bool  # the knob is a whole number
    higher_is_smaller: bool  # True for a compression ratio: a larger setting gives fewer bytes
    save: Callable[..., bytes]
    available: Callable[[], bool]
    version: Callable[[], str | None]
    install: str  # how to get the library, said when it is missing
    options: Mapping[str, Any] = field(default_factory=dict)  # encoder options a caller may set, with defaults
    aliases: tuple[str, ...] = ()  # other names that mean this codec
    ladders: Mapping[str, tuple] = field(default_factory=dict)  # the codec chapter's sweep per dataset ("isic", "film")
    decode: Callable[[bytes, str], np.ndarray] = pillow_decode
    recognises: Callable[[bytes], bool] | None = None  # for formats Pillow knows only once the codec's plugin is loaded

    def check_setting(self, setting) -> float:
        """The setting as the codec uses it: a number in the knob's range, whole where the knob is."""
        if isinstance(setting, (bool, np.bool_)) or not isinstance(setting, (int, float, np.integer, np.floating)):
            raise ValueError(f"{self.label} {self.knob}={setting!r} is not a number")
        if not math.isfinite(setting):
            raise ValueError(f"{self.label} {self.knob}={setting} is not finite: use a finite "
                             + ("ratio > 1" if self.higher_is_smaller else f"number in {self.low:g}..{self.high:g}"))
        if self.integer and setting != int(setting):
            raise ValueError(f"{self.label} {self.knob}={setting} is not a whole number: use an integer in "
                             f"{self.low:g}..{self.high:g}")
        if self.higher_is_smaller and not setting > self.low:
            raise ValueError(f"{self.label} {self.knob}={setting} is out of range: use a ratio > {self.low:g}")
        if not self.low <= setting <= self.high:
            raise ValueError(f"{self.label} {self.knob}={setting} is out of range: use {self.low:g}..{self.high:g}")
        return int(setting) if self.integer else float(setting)

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The codec's options with the caller's merged in; a name it does not know is refused."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ValueError(f"{self.label} ({self.name}) has no option {', '.join(unknown)}; its options are "
                             f"{sorted(self.options) or 'none'}")
        return {**self.options, **options}
