"""JPEG through libjpeg-turbo (Pillow's built-in coder): a quality 1..100 with Huffman tables optimised.

Colour images are coded with the chroma subsampling its name says (``jpeg420`` or ``jpeg444``); the
``subsampling`` option sets another (Study A's "jpeg" is ``jpeg420`` with its own subsampling).
libjpeg clamps a quality of 0 to 1, so 0 is refused rather than recorded wrongly.
"""
from __future__ import annotations

from PIL import Image

from hdmann.engine.codec.base import Codec, pillow_encode, pillow_feature

SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")


def _save(img: Image.Image, pixels, setting: int, subsampling: str) -> bytes:
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(f"subsampling={subsampling!r}: use one of {SUBSAMPLINGS}")
    return pillow_encode(img, "JPEG", quality=setting, optimize=True,
                         **({"subsampling": subsampling} if pixels.ndim == 3 else {}))


_available, _version = pillow_feature("jpg", version_of="libjpeg_turbo")


def _jpeg(name: str, subsampling: str, aliases: tuple[str, ...], isic: tuple, film: tuple = ()) -> Codec:
    return Codec(name=name, label=f"JPEG {subsampling}", library="libjpeg-turbo", knob="quality", low=1, high=100,
                 integer=True, higher_is_smaller=False, save=_save, available=_available, version=_version,
                 install="install a Pillow built with it (the PyPI wheels are)",
                 options={"subsampling": subsampling}, aliases=aliases,
                 ladders={"isic": isic, **({"film": film} if film else {})})


# films are grey: no chroma, so JPEG 4:4:4 equals 4:2:0 there and has no film ladder. JPEG's header
# floor on a 1024x1024 film lies near 0.03 bpp, so the film ladder stops there.
CODECS = (_jpeg("jpeg420", "4:2:0", ("jpeg",), (3, 10, 25, 50, 75, 90), (1, 5, 20, 50, 80, 95)),
          _jpeg("jpeg444", "4:4:4", (), (3, 10, 25, 50, 75, 90)))
