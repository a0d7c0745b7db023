"""The codec chapter: codecs record what they did, sweeps reach the bpp range they claim, a missing
library is named, and BD-accuracy and the margin rule give known answers on synthetic curves."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hdmann.engine import codecs
from hdmann.engine.config import PROFILES
from hdmann.studies.codecs import config
from hdmann.studies.codecs import pipeline as ra, report as rr
from test_compression import natural_grey, natural_rgb


@pytest.mark.parametrize("name", codecs.NAMES)
@pytest.mark.parametrize("kind", ["rgb", "grey"])
def test_round_trip_records_bytes_and_bpp(name, kind):
    if not codecs.available(name):
        pytest.skip(f"{name}: its library is not installed here ({codecs.CODECS[name].library})")
    image = natural_rgb(64) if kind == "rgb" else natural_grey(64)
    setting = 4 if codecs.CODECS[name].higher_is_smaller else 60
    effort = codecs.Effort(4, 9, 3)
    c = codecs.compress(image, name, setting, effort)
    assert c.pixels.shape == image.shape and c.pixels.dtype == np.uint8
    assert c.encoded_bytes == len(codecs.encode(image, name, setting, effort))  # deterministic encoders
    assert c.bpp == pytest.approx(8 * c.encoded_bytes / (64 * 64), rel=1e-12)
    assert c.bpp < 8 * image.size / (64 * 64)  # it compressed
    assert 20 < c.psnr < 70 and 0.3 < c.ssim <= 1


def test_higher_quality_costs_more_bytes():
    image = natural_rgb(96)
    for name in codecs.NAMES:
        if not codecs.available(name):
            continue
        low, high = (100, 10) if codecs.CODECS[name].higher_is_smaller else (10, 90)
        small = codecs.compress(image, name, low, codecs.Effort(4, 9, 3))
        big = codecs.compress(image, name, high, codecs.Effort(4, 9, 3))
        assert small.encoded_bytes < big.encoded_bytes and small.psnr < big.psnr, name


def test_bad_settings_are_refused():
    image = natural_grey(32)
    with pytest.raises(ValueError, match="whole number"):
        codecs.encode(image, "jpeg420", 50.5)
    with pytest.raises(ValueError, match="out of range"):
        codecs.encode(image, "webp", 101)
    with pytest.raises(ValueError, match="ratio > 1"):
        codecs.encode(image, "jpeg2000", 1)
    with pytest.raises(ValueError, match="use one of"):
        codecs.encode(image, "bpg", 10)


def test_missing_library_is_named(monkeypatch):
    monkeypatch.setattr(codecs, "_jxl_plugin", lambda: None)
    assert not codecs.available("jxl")
    with pytest.raises(codecs.CodecUnavailable, match="pillow-jxl-plugin") as err:
        codecs.encode(natural_grey(32), "jxl", 50)
    assert "libjxl" in str(err.value)
    monkeypatch.setattr(codecs.features, "check", lambda feature: feature != "avif")
    with pytest.raises(codecs.CodecUnavailable, match="libavif"):
        codecs.require("avif")
    names, missing = ra.usable(["jpeg", "avif", "jxl"])  # the chapter leaves them out, saying why
    assert names == ["jpeg420"] and [m["codec"] for m in missing] == ["avif", "jxl"]
    assert all("needs" in m["reason"] for m in missing)
    versions = {r["codec"]: r for r in codecs.versions()}
    assert versions["jxl"]["version"] == "missing" and not versions["jxl"]["available"]


def test_codecs_parameter_accepts_lists_and_papermill_strings():
    assert ra.parse_codecs(["jpeg", "webp"]) == ["jpeg420", "webp"]
    assert ra.parse_codecs('["jpeg", "webp"]') == ["jpeg420", "webp"]  # papermill -p passes a string
    assert ra.parse_codecs("avif,jxl") == ["avif", "jxl"]
    with pytest.raises(ValueError, match="not a codec"):
        ra.parse_codecs(["jpeg", "bpg"])
    with pytest.raises(ValueError, match="non-empty"):
        ra.parse_codecs([])


def test_config_refuses_unknown_codecs_and_builds_profiles():
    for profile in PROFILES:
        cfg = config.codec_config(profile)
        assert cfg.study_a.profile == cfg.study_b.profile == profile
        json.dumps(cfg.to_dict())  # cache keys need a JSON-able config
    with pytest.raises(ValueError, match="unknown"):
        config.codec_config("smoke", codecs=("jpeg420", "bpg"))
    with pytest.raises(ValueError, match="out of range"):
        config.codec_config("smoke", avif_speed=11)


def test_interp_weights_integrate_piecewise_linear_curves_exactly():
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([0.0, 1.0, 4.0])
    # over [0.5, 1.5]: 0.375 under the first segment, 0.875 under the second
    assert rr.interp_weights(x, 0.5, 1.5) @ y == pytest.approx(1.25)
    assert rr.interp_weights(x, 0.0, 2.0) @ y == pytest.approx((0.5 + 2.5) / 2)
    with pytest.raises(ValueError):
        rr.interp_weights(np.array([1.0, 0.0]), 0.2, 0.8)
    with pytest.raises(ValueError):
        rr.interp_weights(x, -1.0, 1.0)


def _curve(bpps, intercept, slope=0.1, n_boot=50, seed=0):
    rng = np.random.default_rng(seed)
    points = []
    for b in bpps:
        v = intercept + slope * np.log10(b)
        points.append({"bpp": b, "bytes": b * 100, "setting": b, "value": v, "boot": v + rng.normal(0, 0.01, n_boot)})
    return points


def test_bd_accuracy_of_two_parallel_lines_is_their_offset():
    """Accuracy linear in log bpp, offset 0.1, sampled at different bpp: BD = 0.1 over the common range."""
    a = _curve([0.1, 0.3, 1.0, 3.0], 0.5)
    b = _curve([0.2, 0.5, 2.0, 5.0], 0.4, seed=1)
    span = rr.common_range({"a": a, "b": b}, ["a", "b"])
    assert span == pytest.approx((0.2, 3.0))
    d, boot = rr.bd_accuracy(a, b, *span)
    assert d == pytest.approx(0.1)
    assert boot.shape == (50,) and abs(np.mean(boot) - 0.1) < 0.01
    # two codecs that share no bpp have no common range
    assert rr.common_range({"a": _curve([0.1, 0.2], 0.5), "b": _curve([1.0, 2.0], 0.5)}, ["a", "b"]) is None


def test_lowest_bpp_within_margin_walks_down_from_the_top():
    points = [{"bpp": b, "bytes": b, "setting": b, "delta_low": d}
              for b, d in ((2.0, -0.005), (1.0, -0.01), (0.5, -0.03), (0.25, -0.001))]
    found = rr.lowest_within_margin(points, 0.02)
    assert found["bpp"] == 1.0 and not found["floor_reached"]  # 0.25 passes again, but 0.5 broke the run
    assert rr.lowest_within_margin(points, 0.05)["floor_reached"]
    assert rr.lowest_within_margin([{"bpp": 1, "bytes": 1, "setting": 1, "delta_low": -0.5}], 0.02)["bpp"] is None


@pytest.mark.parametrize("study", ["a", "b"])
def test_sweeps_reach_the_bpp_range_they_claim(study, data_root):
    """The config's ladders, run on real images, span the range the chapter claims for each dataset."""
    from hdmann.engine import data

    cfg = config.codec_config("quick")
    if study == "a":
        paths = [p for p, _ in data.list_isic("test", data_root)][::16]
        images = [data.read_image(p, "RGB") for p in paths]
        low, high = config.CODEC_BPP_RANGE_ISIC
    else:
        mias = data.load_mias(data_root)
        images = [data.read_image(mias.path(n), "L") for n in mias.names[:2]]
        low, high = config.CODEC_BPP_RANGE_FILM
    for name in ra.study_codecs(cfg, study, [n for n in codecs.NAMES if codecs.available(n)]):
        bpp = [np.mean([codecs.compress(im, name, s, ra.effort(cfg), metrics=False).bpp for im in images])
               for s in ra.settings(cfg, study, name)]
        assert min(bpp) <= low and max(bpp) >= high, (name, bpp)


@pytest.mark.slow
def test_chapter_reruns_for_a_subset_of_codecs(smoke_book, data_root, tmp_path, monkeypatch):
    """`papermill ... -p codecs '["jpeg", "webp"]'` (a string, as papermill's -p passes it) runs the
    chapter for those two codecs only, reading the smoke book's cached models and sets."""
    import papermill

    from hdmann.book import results, runner as book

    monkeypatch.setenv("HDMANN_CACHE", str(smoke_book / "_cache"))
    monkeypatch.setenv("HDMANN_DATA", str(data_root))
    out = tmp_path / "codecs.ipynb"
    papermill.execute_notebook(str(book.PROJECT / "notebooks" / "codecs.ipynb"), str(out),
                               parameters={"profile": "smoke", "codecs": '["jpeg", "webp"]'}, cwd=str(book.PROJECT),
                               kernel_name="python3", progress_bar=False)
    values = {v["name"]: v["value"] for v in results.glued_values(json.loads(out.read_text()), "codecs", "smoke")}
    assert values["n_codecs"] == 2 and values["codec_list"] == "JPEG 4:2:0, WebP"
    assert "bd_val_webp" in values and "bd_val_avif" not in values
