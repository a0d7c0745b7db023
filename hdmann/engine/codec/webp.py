"""WebP through libwebp (Pillow's built-in coder): a quality 0..100 (libwebp's 0 is a real setting).

``method`` is the encoder's speed preset, 0 (fast) .. 6 (slowest, fewest bytes for the quality).
"""
from __future__ import annotations

from PIL import Image

from hdmann.engine.codec.base import Codec, pillow_encode, pillow_feature


def _save(img: Image.Image, pixels, setting: int, method: int) -> bytes:
    return pillow_encode(img, "WEBP", quality=setting, method=method)


_available, _version = pillow_feature("webp")


CODECS = (Codec(name="webp", label="WebP", library="libwebp", knob="quality", low=0, high=100, integer=True,
                higher_is_smaller=False, save=_save, available=_available, version=_version,
                install="install a Pillow built with it (the PyPI wheels are)", options={"method": 6},
                ladders={"isic": (0, 15, 40, 70, 85, 95), "film": (0, 10, 40, 70, 90, 98)}),)
