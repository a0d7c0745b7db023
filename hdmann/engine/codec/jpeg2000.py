"""JPEG 2000 through OpenJPEG (Pillow's built-in coder): a target compression ratio, irreversible wavelet.

The output is a raw codestream (no JP2 boxes), the lowest header floor. Rate control stops at that
floor, so a very high target ratio is not reached on a small image: callers record what was achieved.
"""
from __future__ import annotations

from PIL import Image

from hdmann.engine.codec.base import Codec, pillow_encode, pillow_feature


def _save(img: Image.Image, pixels, setting: float) -> bytes:
    return pillow_encode(img, "JPEG2000", quality_mode="rates", quality_layers=[setting], irreversible=True,
                         no_jp2=True)


_available, _version = pillow_feature("jpg_2000")


CODECS = (Codec(name="jpeg2000", label="JPEG 2000", library="OpenJPEG", knob="target ratio", low=1, high=1e9,
                integer=False, higher_is_smaller=True, save=_save, available=_available, version=_version,
                install="install a Pillow built with it (the PyPI wheels are)",
                ladders={"isic": (160, 80, 40, 20, 10), "film": (2000, 1000, 500, 250, 100, 50, 20)}),)
