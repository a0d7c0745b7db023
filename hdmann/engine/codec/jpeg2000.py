"""JPEG 2000 through OpenJPEG (Pillow's built-in coder): a target compression ratio, irreversible wavelet.

The output is a raw codestream (no JP2 boxes), the lowest header floor. Rate control stops at that
floor, so a very high target ratio is not reached on a small image: callers record what was achieved.
"""
from __future__ import annotations

import io

from PIL import Image, features

from hdmann.engine.codec.base import Codec


def _save(img: Image.Image, pixels, setting: float) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG2000", quality_mode="rates", quality_layers=[setting], irreversible=True, no_jp2=True)
    return buf.getvalue()


def _available() -> bool:
    return bool(features.check("jpg_2000"))


def _version() -> str | None:
    return features.version("jpg_2000") if _available() else None


CODECS = (Codec(name="jpeg2000", label="JPEG 2000", library="OpenJPEG", knob="target ratio", low=1, high=1e9,
                integer=False, higher_is_smaller=True, save=_save, available=_available, version=_version,
                install="install a Pillow built with it (the PyPI wheels are)",
                ladders={"isic": (160, 80, 40, 20, 10), "film": (2000, 1000, 500, 250, 100, 50, 20)}),)
