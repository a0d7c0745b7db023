"""AVIF through libavif (Pillow >= 11.3's built-in coder): a quality 0..100, one thread.

``speed`` is the encoder's preset, 0 (slowest) .. 10 (libavif's default is 6). Colour images are
coded 4:2:0, the format's common profile.
"""
from __future__ import annotations

from PIL import Image

from hdmann.engine.codec.base import Codec, pillow_encode, pillow_feature


def _save(img: Image.Image, pixels, setting: int, speed: int) -> bytes:
    return pillow_encode(img, "AVIF", quality=setting, speed=speed, max_threads=1,
                         **({"subsampling": "4:2:0"} if pixels.ndim == 3 else {}))


_available, _version = pillow_feature("avif")


CODECS = (Codec(name="avif", label="AVIF", library="libavif", knob="quality", low=0, high=100, integer=True,
                higher_is_smaller=False, save=_save, available=_available, version=_version,
                install="install Pillow >= 11.3 built with libavif (the PyPI wheels are), or pip install "
                        "pillow-avif-plugin", options={"speed": 6},
                ladders={"isic": (2, 15, 35, 55, 75, 90), "film": (0, 10, 30, 50, 70, 90)}),)
