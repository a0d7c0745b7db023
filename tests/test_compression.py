"""hdmann.engine.coding and quality: codecs through the registry report what they did (ratio, bpp, PSNR,
SSIM), never what was asked."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from hdmann.engine import codecs, coding as C, parallel, quality


def natural_grey(size: int = 256, seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    """A textured, photo-like grey image: smoothed noise (fixed, so the codec numbers are fixed)."""
    rng = np.random.default_rng(seed)
    img = gaussian_filter(rng.normal(size=(size, size)), sigma)
    img = 128 + 50 * img / img.std()
    return np.clip(img, 0, 255).astype(np.uint8)


def natural_rgb(size: int = 96, seed: int = 1) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    base = natural_grey(size, seed, 1.5).astype(float)
    rgb = np.stack([base, 0.6 * base + 0.4 * (xx * 255 / size), 255 - 0.8 * base + 0.1 * yy], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


CASES = [("jpeg", 75), ("webp", 75), ("jpeg2000", 4)]


@pytest.mark.parametrize("codec, setting", CASES)
@pytest.mark.parametrize("kind", ["rgb", "grey"])
def test_round_trip(codec, setting, kind):
    image = natural_rgb(64) if kind == "rgb" else natural_grey(64)
    c = C.compress(image, codec, setting)
    assert c.pixels.shape == image.shape
    assert c.pixels.dtype == np.uint8
    assert c.codec == codec and c.setting == float(setting)
    assert c.raw_bytes == image.size  # uint8: one byte per sample
    assert c.encoded_bytes == len(codecs.encode(image, codec, setting))  # encoding is deterministic
    assert c.ratio == pytest.approx(c.raw_bytes / c.encoded_bytes, rel=1e-12)
    assert c.bpp == pytest.approx(8 * c.encoded_bytes / (64 * 64), rel=1e-12)
    assert c.ratio > 1
    # lossy but close at these settings, and the metrics agree with the functions
    assert 25 < c.psnr < 60
    assert c.psnr == quality.psnr(image, c.pixels)
    assert c.ssim == pytest.approx(quality.ssim(image, c.pixels))
    assert 0.5 < c.ssim < 1
    np.testing.assert_array_equal(c.pixels, codecs.decode(codecs.encode(image, codec, setting), "RGB" if kind == "rgb" else "L"))


def test_grey_bpp_vs_rgb_bpp_counts_pixels_not_samples():
    rgb = natural_rgb(64)
    c = C.compress(rgb, "jpeg", 75)
    assert c.raw_bytes == 64 * 64 * 3
    assert c.bpp * (64 * 64) / 8 == pytest.approx(c.encoded_bytes)


def test_psnr_identical_is_inf_and_known_value():
    a = natural_grey(32)
    assert quality.psnr(a, a) == math.inf
    b = a.astype(np.int16)
    b[0, 0] = (b[0, 0] + 10) % 256 if b[0, 0] < 246 else b[0, 0] - 10
    mse = 100 / a.size
    assert quality.psnr(a, b.astype(np.uint8)) == pytest.approx(10 * math.log10(255**2 / mse))


def test_psnr_and_ssim_fall_as_jpeg_quality_falls():
    image = natural_grey(128)
    results = [C.compress(image, "jpeg", q) for q in (90, 50, 20, 5, 1)]
    psnrs = [r.psnr for r in results]
    ratios = [r.ratio for r in results]
    assert psnrs == sorted(psnrs, reverse=True) and len(set(psnrs)) == len(psnrs)
    assert ratios == sorted(ratios)
    assert results[0].ssim > results[-1].ssim


def test_ssim_identical_noisy_and_errors():
    a = natural_grey(64)
    assert quality.ssim(a, a) == pytest.approx(1.0, abs=1e-9)
    rgb = natural_rgb(48)
    assert quality.ssim(rgb, rgb) == pytest.approx(1.0, abs=1e-9)
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 25, a.shape), 0, 255).astype(np.uint8)
    s = quality.ssim(a, noisy)
    assert 0 < s < 1
    worse = np.clip(a + np.random.default_rng(0).normal(0, 60, a.shape), 0, 255).astype(np.uint8)
    assert quality.ssim(a, worse) < s
    assert quality.ssim(a, noisy) == pytest.approx(quality.ssim(noisy, a))  # symmetric
    with pytest.raises(ValueError, match="shapes differ"):
        quality.ssim(a, a[:32])


@pytest.mark.parametrize("target", [15, 100])
def test_jpeg2000_rate_control_reaches_moderate_targets(target):
    image = natural_grey(256)
    c = C.compress(image, "jpeg2000", target)
    assert abs(c.ratio / target - 1) < 0.10, c.ratio
    assert C.reached(c.ratio, target)


def test_jpeg2000_header_floor():
    image = natural_grey(256)
    c = C.compress(image, "jpeg2000", 1e6)
    assert c.ratio < 1e6 / 100  # the codestream cannot shrink below its headers
    assert c.encoded_bytes > 256 * 256 / 1e4
    assert not C.reached(c.ratio, 1e6)
    assert c.setting == 1e6  # the target is recorded, but ratio is what was achieved
    # a higher unreachable target cannot do better than the floor
    assert C.compress(image, "jpeg2000", 1e5).encoded_bytes == c.encoded_bytes


def test_reached_tolerance():
    assert C.reached(90.0, 100)
    assert not C.reached(89.9, 100)
    assert C.reached(150.0, 100)  # overshooting counts as reached
    assert C.reached(95.0, 100, tolerance=0.05)
    assert not C.reached(94.0, 100, tolerance=0.05)


@pytest.mark.parametrize("codec, setting, words", [
    ("png", 50, "codec='png'"), ("jpeg", 101, "quality=101"), ("jpeg", -1, "quality=-1"),
    ("webp", 150, "quality=150"), ("jpeg2000", 0.5, "ratio=0.5"), ("jpeg2000", 0, "ratio=0"),
    ("jpeg", 0, "quality=0 is out of range"), ("jpeg", 50.5, "quality=50.5 is not a whole number"),
    ("webp", 7.9, "not a whole number"), ("jpeg", float("nan"), "quality=nan"), ("jpeg", True, "not a number"),
    ("jpeg", "50", "not a number"), ("jpeg2000", float("inf"), "finite ratio > 1"),
    ("jpeg2000", 1, "ratio=1 is out of range"), ("jpeg2000", float("nan"), "ratio=nan"),
])
def test_invalid_codec_or_setting(codec, setting, words):
    image = natural_grey(16)
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        C.compress(image, codec, setting)
    with pytest.raises(ValueError):
        C.compress_many([image], codec, setting)


def test_encode_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        codecs.encode(np.zeros((8, 8), np.float32), "jpeg", 50)
    with pytest.raises(ValueError, match="uint8"):
        codecs.encode(np.zeros((2, 8, 8, 3), np.uint8), "jpeg", 50)


def test_compress_many_pass_through_and_resize():
    images = np.stack([natural_rgb(32, seed) for seed in range(3)])
    pixels, stats = C.compress_many(images, None, workers=1)
    np.testing.assert_array_equal(pixels, images)
    assert stats["ratio"].tolist() == [1.0] * 3
    assert stats["bpp"].tolist() == [24.0] * 3
    assert np.all(np.isinf(stats["psnr"])) and stats["ssim"].tolist() == [1.0] * 3
    assert set(stats) == set(C.STAT_FIELDS)
    small, _ = C.compress_many(images, None, out_size=16, workers=1)
    assert small.shape == (3, 16, 16, 3) and small.dtype == np.uint8
    expected = np.asarray(Image.fromarray(images[1]).resize((16, 16), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(small[1], expected)
    grey, gstats = C.compress_many([natural_grey(32)], None, workers=1)
    assert grey.shape == (1, 32, 32) and gstats["bpp"].tolist() == [8.0]


def test_compress_many_measures_at_stored_size_then_resizes():
    images = [natural_grey(128, seed) for seed in range(2)]
    pixels, stats = C.compress_many(images, "jpeg2000", 20, mode="L", out_size=32, workers=1)
    assert pixels.shape == (2, 32, 32)
    for i, image in enumerate(images):
        c = C.compress(image, "jpeg2000", 20)
        assert stats["encoded_bytes"][i] == c.encoded_bytes
        assert stats["raw_bytes"][i] == 128 * 128
        assert stats["ratio"][i] == c.ratio and stats["psnr"][i] == c.psnr and stats["ssim"][i] == c.ssim
        resized = np.asarray(Image.fromarray(c.pixels).resize((32, 32), Image.Resampling.BILINEAR))
        np.testing.assert_array_equal(pixels[i], resized)


class CountingPool(parallel.ProcessPoolExecutor):
    started = 0

    def __init__(self, *args, **kwargs):
        type(self).started += 1
        super().__init__(*args, **kwargs)


@pytest.fixture
def counting_pool(monkeypatch):
    CountingPool.started = 0
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", CountingPool)
    return CountingPool


def test_compress_many_files_parallel_equals_serial(tmp_path, counting_pool):
    paths = []
    for i in range(10):
        path = tmp_path / f"film{i:02d}.png"
        Image.fromarray(natural_grey(64, seed=i)).save(path)
        paths.append(path)
    serial, s_stats = C.compress_many(paths, "jpeg2000", 15, mode="L", out_size=32, workers=1)
    assert counting_pool.started == 0
    parallel, p_stats = C.compress_many([str(p) for p in paths], "jpeg2000", 15, mode="L", out_size=32,
                                        workers=2)
    assert counting_pool.started == 1  # files always count as heavy work
    np.testing.assert_array_equal(parallel, serial)
    for field in C.STAT_FIELDS:
        np.testing.assert_array_equal(p_stats[field], s_stats[field])
    assert serial.shape == (10, 32, 32)


def test_compress_many_arrays_parallel_equals_serial(monkeypatch, counting_pool):
    images = np.stack([natural_rgb(32, seed) for seed in range(9)])
    serial, s_stats = C.compress_many(images, "jpeg", 30, workers=2)  # small: stays in-process
    assert counting_pool.started == 0
    monkeypatch.setattr(C, "PARALLEL_MIN_PIXELS", 0)
    parallel, p_stats = C.compress_many(images, "jpeg", 30, workers=2)
    assert counting_pool.started == 1
    np.testing.assert_array_equal(parallel, serial)
    for field in C.STAT_FIELDS:
        np.testing.assert_array_equal(p_stats[field], s_stats[field])


@pytest.mark.parametrize("codec, settings, mode", [("jpeg2000", (15, 100, 5000, 10000, 11000), "L"),
                                                   ("jpeg", (50, 10, 1), "RGB")])
def test_ladder_stats_equal_one_compress_many_per_setting(tmp_path, counting_pool, codec, settings, mode):
    """The ladder reads each image once and reuses its SSIM reference and the measures of a repeated
    codestream (JPEG 2000's header floor at high ratios), and must still give exactly the numbers."""
    paths = []
    for i in range(9):
        path = tmp_path / f"image{i}.png"
        Image.fromarray(natural_grey(48, seed=i) if mode == "L" else natural_rgb(48, seed=i)).save(path)
        paths.append(path)
    ladder = C.ladder_stats(paths, codec, settings, mode=mode, workers=2)
    assert counting_pool.started == 1 and len(ladder) == len(settings)
    for setting, stats in zip(settings, ladder.values()):
        _, expected = C.compress_many(paths, codec, setting, mode=mode, workers=1)
        for field in C.STAT_FIELDS:
            np.testing.assert_array_equal(stats[field], expected[field], err_msg=f"{setting} {field}")
    if codec == "jpeg2000":  # the floor is reached: the top settings share their bytes
        np.testing.assert_array_equal(ladder[10000.0]["encoded_bytes"], ladder[11000.0]["encoded_bytes"])
    with pytest.raises(ValueError, match="no images"):
        C.ladder_stats([], codec, settings)
    with pytest.raises(ValueError, match="target ratio"):
        C.ladder_stats(paths, "jpeg2000", (15, 0.5))


def test_ssim_reference_scores_like_ssim():
    a, b = natural_rgb(40, seed=1), natural_rgb(40, seed=2)
    reference = quality.SsimReference(a)
    assert reference.score(b) == quality.ssim(a, b) and reference.score(a) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        reference.score(natural_rgb(32, seed=2))


def test_compress_many_refuses_an_empty_selection():
    with pytest.raises(ValueError, match="no images"):
        C.compress_many([], "jpeg", 50)


def test_whole_float_quality_is_used_and_recorded_as_the_integer():
    image = natural_grey(32)
    c = C.compress(image, "jpeg", 50.0)
    assert c.setting == 50 and c.encoded_bytes == len(codecs.encode(image, "jpeg", 50))
    assert C.compress(image, "jpeg", np.int64(1)).setting == 1  # numpy integers are integers
    assert C.compress(image, "webp", 0).setting == 0  # libwebp's 0 is a real setting


def test_unknown_subsampling_is_refused():
    with pytest.raises(ValueError, match="subsampling='4:1:1'"):
        C.compress(natural_rgb(16), "jpeg", 50, subsampling="4:1:1")
    with pytest.raises(ValueError, match="subsampling"):
        C.compress_many([natural_rgb(16)], "jpeg", 50, subsampling="420")


def test_psnr_and_ssim_refuse_shapes_that_would_broadcast():
    a = natural_grey(32)
    b = C.compress(a, "jpeg", 50).pixels
    for x, y in ((a[..., None], b), (a, b[..., None]), (a, b[:, :31])):
        with pytest.raises(ValueError, match="shapes differ|expected uint8"):
            quality.psnr(x, y)
        with pytest.raises(ValueError, match="shapes differ|expected uint8"):
            quality.ssim(x, y)
    with pytest.raises(ValueError, match="uint8"):
        quality.psnr(a.astype(np.float64), b.astype(np.float64))
    with pytest.raises(ValueError, match="at least 11 px"):
        quality.ssim(a[:8, :8], b[:8, :8])


def _skimage_ssim(a, b):
    from skimage.metrics import structural_similarity

    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=255, channel_axis=-1 if a.ndim == 3 else None)


def test_psnr_and_ssim_match_scikit_image_on_real_images(data_root):
    """Wang et al.'s SSIM as scikit-image computes it (11x11 Gaussian, 5 px border left out), and
    PSNR with data_range 255: on a real ISIC image and a real MIAS film, after JPEG and JPEG 2000."""
    from skimage.metrics import peak_signal_noise_ratio

    from hdmann.engine import data

    isic = data.read_image(data_root / "isic4" / "train" / "melanoma" / "ISIC_0000279.png", "RGB")
    film = data.read_image(data_root / "mias" / "images" / "mdb001.png", "L")
    for image, codec, setting in ((isic, "jpeg", 5), (isic, "jpeg", 50), (isic, "jpeg2000", 40),
                                  (film, "jpeg", 10), (film, "jpeg2000", 1000)):
        c = C.compress(image, codec, setting)
        assert c.psnr == pytest.approx(peak_signal_noise_ratio(image, c.pixels, data_range=255), abs=1e-9)
        assert c.ssim == pytest.approx(_skimage_ssim(image, c.pixels), abs=2e-6), (codec, setting)


def test_the_isic_survey_size_counts_the_sample_and_every_image(tmp_path):
    """quick and smoke survey a seeded sample per class; the prose names it against the whole set."""
    from hdmann.studies.foundations.report import sample_wording
    from hdmann.studies.foundations import pipeline as codec_survey
    from hdmann.studies.foundations.config import compression_config
    from synthetic import write_isic

    root = tmp_path / "data"
    write_isic(root, train_per_class=6, test_per_class=2)
    assert codec_survey.isic_survey_size(compression_config("smoke", max_isic_images=3), root) == (12, 32)
    assert codec_survey.isic_survey_size(compression_config("paper"), root) == (32, 32)
    assert sample_wording(32, 32, "isic4 images") == "all 32 isic4 images"
    assert sample_wording(12, 1697, "isic4 images") == "a seeded sample of 12 of the 1,697 isic4 images"
    assert sample_wording(12, 1697, "isic4 images", per_class=3).endswith("isic4 images (3 per class)")
    assert sample_wording(32, 32, "isic4 images", per_class=3) == "all 32 isic4 images"
    with pytest.raises(ValueError, match="1 <= used <= total"):
        sample_wording(40, 32, "isic4 images")


# ---------------------------------------------------------------- the compression chapter's wording
def _survey(points):
    return [{"setting": q, "bpp": bpp, "psnr": psnr} for q, bpp, psnr in points]


def test_jpeg_saturation_is_the_highest_quality_from_which_every_step_down_is_within_tolerance():
    from hdmann.studies.foundations import report

    rows = _survey([(50, 0.63, 35.3), (20, 0.32, 32.6), (10, 0.20, 29.8), (5, 0.151, 26.4), (3, 0.1375, 23.33),
                    (1, 0.1356, 23.25)])
    found = report.jpeg_saturation(rows)
    assert (found["from"], found["to"]) == (3, 1) and found["psnr_change"] == pytest.approx(-0.08)
    text = report.saturation_wording(rows)
    assert "From q3 to q1" in text and "So q3 and q1 are nearly one condition" in text
    flat = _survey([(10, 0.2, 29.8), (5, 0.199, 29.7), (3, 0.198, 29.6), (1, 0.198, 29.6)])
    assert (report.jpeg_saturation(flat)["from"], report.jpeg_saturation(flat)["to"]) == (10, 1)
    steep = _survey([(5, 0.15, 26.4), (3, 0.13, 23.3), (1, 0.10, 20.0)])
    assert report.jpeg_saturation(steep) is None and "a condition of its own" in report.saturation_wording(steep)


def test_libjpeg_caps_more_of_its_quantisation_table_as_quality_falls():
    from hdmann.studies.foundations import report

    shares = [report.quantisation_cap_share(q) for q in (50, 10, 3, 1)]
    assert shares == sorted(shares) and shares[0] == 0.0 and shares[-1] == 1.0


def test_unreached_targets_are_named_as_ratios():
    from hdmann.studies.foundations import report

    assert report.unreached_wording([5000, 11000], "film") == "Not reached on every surveyed film: 5,000:1 and 11,000:1."
    assert report.unreached_wording([], "image") == "Every target was reached on every surveyed image."
