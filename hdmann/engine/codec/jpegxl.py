"""JPEG XL through libjxl, which the optional ``pillow-jxl-plugin`` package plugs into Pillow.

A quality 0..100 (not necessarily whole), one thread; ``effort`` is the encoder's preset, 1 (fast) .. 9
(libjxl's default is 7). The plugin is imported only when the codec is used: importing it registers
the JXL format with Pillow, for coding and for decoding.
"""
from __future__ import annotations

import importlib
import re
from importlib import metadata
from pathlib import Path

from PIL import Image

from hdmann.engine.codec.base import Codec, pillow_decode, pillow_encode


def _plugin():
    try:
        return importlib.import_module("pillow_jxl")
    except ImportError:
        return None


def _save(img: Image.Image, pixels, setting: float, effort: int) -> bytes:
    _plugin()
    return pillow_encode(img, "JXL", quality=setting, effort=effort, num_threads=1)


def _decode(data: bytes, mode: str):
    _plugin()
    return pillow_decode(data, mode)


def _recognises(data: bytes) -> bool:
    """A bare JXL codestream or one in its ISO box container."""
    return data[:2] == b"\xff\x0a" or data[4:7] == b"JXL"


def _available() -> bool:
    return _plugin() is not None


def _library_version() -> str | None:
    """libjxl's version as the plugin's compiled extension names it (jpegxl-rs bundles libjxl)."""
    plugin = _plugin()
    if plugin is None:
        return None
    for so in Path(plugin.__file__).parent.glob("pillow_jxl*.so"):
        found = re.search(rb"libjxl-(\d+\.\d+\.\d+)", so.read_bytes())
        if found:
            return found.group(1).decode()
    return None


def _version() -> str | None:
    try:
        plugin = metadata.version("pillow-jxl-plugin")
    except metadata.PackageNotFoundError:
        return None
    return f"{_library_version() or 'unknown'} (pillow-jxl-plugin {plugin})"


CODECS = (Codec(name="jxl", label="JPEG XL", library="libjxl (pillow-jxl-plugin)", knob="quality", low=0, high=100,
                integer=False, higher_is_smaller=False, save=_save, available=_available, version=_version,
                install="pip install pillow-jxl-plugin (or pip install -e '.[book]')", options={"effort": 7},
                ladders={"isic": (1, 15, 40, 70, 85, 95), "film": (1, 10, 30, 60, 85, 97)},
                decode=_decode, recognises=_recognises),)
