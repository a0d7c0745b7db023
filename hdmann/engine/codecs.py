"""The codec registry: every lossy codec the book uses, one module each, listed once in ``MODULES``.

A codec module (one per codec in :mod:`hdmann.engine.codec`: ``jpeg``, ``jpeg2000``, ``webp``, ...)
declares ``CODECS``, its :class:`Codec`\\ s: names, encoder, decoder, whether its library is here and
which version, its knob with the knob's range, and the ladders the codec chapter sweeps. Everything
else (the compression chapter, both studies, the codec chapter, the book's provenance) calls this
registry by codec name: an unknown name is refused naming the known ones, a codec whose library is
missing raises :class:`CodecUnavailable` saying what to install.

Each module is imported here by name (and this registry is a module, not a package's ``__init__``), so a
stage's code fingerprint follows a codec's code.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from hdmann.engine.codec import avif, jpeg, jpeg2000, jpegxl, webp
from hdmann.engine.codec.base import Codec, CodecUnavailable, check_pixels, pillow_decode

MODULES = (jpeg, jpeg2000, webp, avif, jpegxl)  # the registered codec modules, one per codec, in the book's order

__all__ = ["Codec", "CodecUnavailable", "MODULES", "available", "check_setting", "codec", "decode", "encode",
           "ladders", "names", "require", "versions"]


def _table() -> dict[str, Codec]:
    """Every registered codec by its name (read from ``MODULES`` on each call, so a registration counts at once)."""
    table = {}
    for module in MODULES:
        for spec in module.CODECS:
            if spec.name in table:
                raise ValueError(f"codec {spec.name!r} is registered twice ({module.__name__}); give it another name")
            table[spec.name] = spec
    return table


def names() -> tuple[str, ...]:
    return tuple(_table())


def __getattr__(attr: str):
    # CODECS (name -> Codec) and NAMES follow the registry as it stands
    if attr == "CODECS":
        return _table()
    if attr == "NAMES":
        return names()
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def codec(name: str) -> Codec:
    """The codec a name (or one of its aliases) means; an unknown name is refused, naming the known ones."""
    table = _table()
    if name in table:
        return table[name]
    for spec in table.values():
        if name in spec.aliases:
            return spec
    raise ValueError(f"codec={name!r}: use one of {tuple(table)}"
                     + "".join(f" ({a!r} means {s.name})" for s in table.values() for a in s.aliases))


def available(name: str) -> bool:
    return bool(codec(name).available())


def require(name: str) -> Codec:
    """The codec, or :class:`CodecUnavailable` naming the missing library and how to install it."""
    spec = codec(name)
    if not spec.available():
        raise CodecUnavailable(f"codec {spec.label} ({name}) needs {spec.library}, which this Python does not "
                               f"have: {spec.install}. Or leave {name!r} out of the chapter's `codecs` parameter.")
    return spec


def check_setting(name: str, setting) -> float:
    """The setting as the codec uses it: a number in the knob's range, whole where the knob is."""
    return codec(name).check_setting(setting)


def encode(image: np.ndarray, name: str, setting, **options) -> bytes:
    """Encode uint8 (H, W) or (H, W, 3) pixels in the codec's leanest container; ``options`` are the
    codec's own (e.g. ``subsampling`` for JPEG, ``method`` for WebP), unknown ones refused."""
    spec = codec(name)
    setting = spec.check_setting(setting)
    options = spec.check_options(options)
    check_pixels(image)
    require(name)
    return spec.save(Image.fromarray(image), image, setting, **options)


def decode(data: bytes, mode: str) -> np.ndarray:
    """Decoded pixels in ``mode`` ("L" or "RGB"), whichever registered codec wrote ``data``."""
    for spec in _table().values():
        if spec.recognises is not None and spec.recognises(data):
            return spec.decode(data, mode)
    return pillow_decode(data, mode)


def ladders(dataset: str) -> dict[str, tuple]:
    """The codec chapter's sweep on ``dataset`` ("isic" or "film"), per codec that has one there."""
    return {name: spec.ladders[dataset] for name, spec in _table().items() if dataset in spec.ladders}


def versions() -> list[dict]:
    """Per codec: the library that codes it and its version, or that it is missing."""
    rows = []
    for name, spec in _table().items():
        ok = bool(spec.available())
        rows.append({"codec": name, "label": spec.label, "library": spec.library,
                     "version": (spec.version() or "unknown") if ok else "missing", "available": ok})
    return rows
