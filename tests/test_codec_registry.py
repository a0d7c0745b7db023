"""The codec registry: one module per codec, listed once; a new codec is one module plus one line, and
names, availability and options are checked in one place for every codec."""
from __future__ import annotations

import importlib
import sys
import textwrap

import numpy as np
import pytest

from hdmann.engine import codecs, coding
from hdmann.studies.codecs import pipeline as ra
from test_compression import natural_grey, natural_rgb

TOY_CODEC = '''
"""A toy codec: keeps ``levels`` grey levels per channel and stores them losslessly (PNG)."""
import io

import numpy as np
from PIL import Image

from hdmann.engine.codec.base import Codec

INSTALLED = True  # stands for "its library imports"


def _save(img, pixels, setting, dither):
    step = 256 / setting
    kept = (np.floor(pixels / step) * step + step / 2 * dither).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(kept).save(buf, "PNG", optimize=True)
    return buf.getvalue()


CODECS = (Codec(name="toy", label="Toy", library="libtoy", knob="levels", low=2, high=256, integer=True,
                higher_is_smaller=False, save=_save, available=lambda: INSTALLED,
                version=lambda: "1.0" if INSTALLED else None, install="pip install toy",
                options={"dither": 1}, aliases=("posterize",), ladders={"isic": (4, 16, 64)}),)
'''


@pytest.fixture
def toy_codec(tmp_path, monkeypatch):
    """A codec module outside the package, and its one line in the registry's MODULES."""
    (tmp_path / "toy_codec.py").write_text(textwrap.dedent(TOY_CODEC))
    monkeypatch.syspath_prepend(str(tmp_path))
    toy = importlib.import_module("toy_codec")
    monkeypatch.setattr(codecs, "MODULES", codecs.MODULES + (toy,))  # the one line
    yield toy
    sys.modules.pop("toy_codec", None)


def test_a_new_codec_is_a_module_and_one_line(toy_codec):
    assert codecs.names()[-1] == "toy" and codecs.CODECS["toy"].label == "Toy"
    assert codecs.codec("posterize").name == "toy"
    assert {"codec": "toy", "label": "Toy", "library": "libtoy", "version": "1.0", "available": True} in codecs.versions()
    assert codecs.ladders("isic")["toy"] == (4, 16, 64) and "toy" not in codecs.ladders("film")
    image = natural_grey(32)
    data = codecs.encode(image, "toy", 4)
    decoded = codecs.decode(data, "L")
    assert decoded.shape == image.shape and len(np.unique(decoded)) <= 4  # lossy: four levels kept
    assert data != codecs.encode(image, "toy", 4, dither=0)  # its own option reaches its encoder
    c = coding.compress(natural_rgb(32), "toy", 16)
    assert c.setting == 16 and c.encoded_bytes == len(codecs.encode(natural_rgb(32), "toy", 16)) and c.psnr < 60
    _, stats = coding.compress_many([image, image], "toy", 64, mode="L", workers=1)
    assert stats["encoded_bytes"].tolist() == [len(codecs.encode(image, "toy", 64))] * 2
    assert ra.parse_codecs("posterize,jpeg") == ["toy", "jpeg420"]  # the codec chapter knows it too


def test_the_registry_checks_a_new_codecs_settings_and_options(toy_codec):
    image = natural_grey(32)
    with pytest.raises(ValueError, match="Toy levels=1 is out of range: use 2..256"):
        codecs.encode(image, "toy", 1)
    with pytest.raises(ValueError, match="Toy levels=4.5 is not a whole number"):
        codecs.encode(image, "toy", 4.5)
    with pytest.raises(ValueError, match=r"Toy \(toy\) has no option quality; its options are \['dither'\]"):
        codecs.encode(image, "toy", 4, quality=3)


def test_an_unavailable_codec_is_refused_saying_what_to_install(toy_codec, monkeypatch):
    monkeypatch.setattr(toy_codec, "INSTALLED", False)
    assert not codecs.available("toy") and "toy" in codecs.names()  # still listed, only not usable
    with pytest.raises(codecs.CodecUnavailable, match="needs libtoy, which this Python does not have: pip install toy"):
        codecs.encode(natural_grey(32), "toy", 4)
    assert next(r for r in codecs.versions() if r["codec"] == "toy")["version"] == "missing"
    names, missing = ra.usable(["jpeg420", "toy"])
    assert names == ["jpeg420"] and missing[0]["codec"] == "toy" and "pip install toy" in missing[0]["reason"]


def test_without_its_line_a_codec_module_is_not_a_codec():
    assert "toy" not in codecs.names()
    with pytest.raises(ValueError, match=r"codec='toy': use one of \('jpeg420', 'jpeg444', 'jpeg2000', 'webp', "
                                         r"'avif', 'jxl'\) \('jpeg' means jpeg420\)"):
        codecs.encode(natural_grey(32), "toy", 4)


def test_every_codec_name_and_alias_is_one_codec():
    every = [n for spec in codecs.CODECS.values() for n in (spec.name, *spec.aliases)]
    assert len(every) == len(set(every))
    assert codecs.codec("jpeg") is codecs.codec("jpeg420")
