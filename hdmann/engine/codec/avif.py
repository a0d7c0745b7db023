"""AVIF through libavif (Pillow >= 11.3's built-in coder): a quality 0..100, one thread.

``speed`` is the encoder's preset, 0 (slowest) .. 10 (libavif's default is 6). Colour images are
coded 4:2:0, the format's common profile.
"""
from __future__ import annotations

import io

from PIL import Image, features

from hdmann.engine.codec.base import Codec


def _save(img: Image.Image, pixels, setting: int, speed: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "AVIF", quality=setting, speed=speed, max_threads=1,
             **({"subsampling": "4:2:0"} if pixels.ndim == 3 else {}))
    return buf.getvalue()


def _available() -> bool:
    return bool(features.check("avif"))


def _version() -> str | None:
    return features.version("avif") if _available() else None


CODECS = (Codec(name="avif", label="AVIF", library="libavif", knob="quality", low=0, high=100, integer=True,
                higher_is_smaller=False, save=_save, available=_available, version=_version,
                install="install Pillow >= 11.3 built with libavif (the PyPI wheels are), or pip install "
                        "pillow-avif-plugin", options={"speed": 6},
                ladders={"isic": (2, 15, 35, 55, 75, 90), "film": (0, 10, 30, 50, 70, 90)}),)
