"""The codec chapter: codecs record what they did, sweeps reach the bpp range they claim, a missing
library is named, and BD-accuracy and the margin rule give known answers on synthetic curves."""
from __future__ import annotations

import json

import numpy as np
import PIL.features
import pytest

from hdmann.engine import codecs, coding
from hdmann.engine.codec import jpegxl
from hdmann.engine.config import PROFILES
from hdmann.studies.codecs import config
from hdmann.studies.codecs import pipeline as ra, report as rr
from test_compression import natural_grey, natural_rgb

FAST = {"webp": {"method": 4}, "avif": {"speed": 9}, "jxl": {"effort": 3}}  # fast encoder presets, per codec


@pytest.mark.parametrize("name", codecs.NAMES)
@pytest.mark.parametrize("kind", ["rgb", "grey"])
def test_round_trip_records_bytes_and_bpp(name, kind):
    if not codecs.available(name):
        pytest.skip(f"{name}: its library is not installed here ({codecs.CODECS[name].library})")
    image = natural_rgb(64) if kind == "rgb" else natural_grey(64)
    setting = 4 if codecs.CODECS[name].higher_is_smaller else 60
    effort = FAST.get(name, {})
    c = coding.compress(image, name, setting, **effort)
    assert c.pixels.shape == image.shape and c.pixels.dtype == np.uint8
    assert c.encoded_bytes == len(codecs.encode(image, name, setting, **effort))  # deterministic encoders
    assert c.bpp == pytest.approx(8 * c.encoded_bytes / (64 * 64), rel=1e-12)
    assert c.bpp < 8 * image.size / (64 * 64)  # it compressed
    assert 20 < c.psnr < 70 and 0.3 < c.ssim <= 1


def test_higher_quality_costs_more_bytes():
    image = natural_rgb(96)
    for name in codecs.NAMES:
        if not codecs.available(name):
            continue
        low, high = (100, 10) if codecs.CODECS[name].higher_is_smaller else (10, 90)
        small = coding.compress(image, name, low, **FAST.get(name, {}))
        big = coding.compress(image, name, high, **FAST.get(name, {}))
        assert small.encoded_bytes < big.encoded_bytes and small.psnr < big.psnr, name


def test_bad_settings_are_refused():
    image = natural_grey(32)
    with pytest.raises(ValueError, match="whole number"):
        codecs.encode(image, "jpeg420", 50.5)
    with pytest.raises(ValueError, match="out of range"):
        codecs.encode(image, "webp", 101)
    with pytest.raises(ValueError, match="ratio > 1"):
        codecs.encode(image, "jpeg2000", 1)
    with pytest.raises(ValueError, match=r"use one of \('jpeg420', 'jpeg444', 'jpeg2000'"):
        codecs.encode(image, "bpg", 10)
    with pytest.raises(ValueError, match="no option speed; its options are \\['method'\\]"):
        codecs.encode(image, "webp", 50, speed=3)


def test_missing_library_is_named(monkeypatch):
    monkeypatch.setattr(jpegxl, "_plugin", lambda: None)
    assert not codecs.available("jxl")
    with pytest.raises(codecs.CodecUnavailable, match="pillow-jxl-plugin") as err:
        codecs.encode(natural_grey(32), "jxl", 50)
    assert "libjxl" in str(err.value)
    monkeypatch.setattr(PIL.features, "check", lambda feature: feature != "avif")  # what every Pillow coder asks
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


def _walk(*rows):
    return [{"bpp": b, "bytes": b, "setting": b, "delta_low": lo, "delta_high": hi} for b, lo, hi in rows]


def test_lowest_bpp_within_margin_walks_down_from_the_top():
    points = _walk((2.0, -0.005, 0.005), (1.0, -0.01, 0.0), (0.5, -0.03, -0.025), (0.25, -0.001, 0.001))
    found = rr.lowest_within_margin(points, 0.02)
    assert found["bpp"] == 1.0 and not found["floor_reached"]  # 0.25 passes again, but 0.5 broke the run
    assert found["status"] == rr.LOSS and found["stopped_at"] == 0.5 and found["resolves"]
    floor = rr.lowest_within_margin(points, 0.05)
    assert floor["floor_reached"] and floor["status"] == rr.FLOOR and floor["detectable"] == pytest.approx(0.001)
    assert rr.lowest_within_margin(_walk((1, -0.5, -0.4)), 0.02)["bpp"] is None


def test_a_margin_finer_than_the_sample_resolves_is_reported_with_the_detectable_change():
    """Intervals +-0.06 wide against a 0.02 margin: a codec that lost nothing (centred on 0) cannot pass,
    so the walk's stop says the margin is finer than the sample resolves, with 0.06 beside it."""
    points = _walk((2.0, 0.02, 0.06), (1.0, -0.06, 0.06), (0.5, -0.07, 0.05))
    found = rr.lowest_within_margin(points, 0.02)
    assert found["bpp"] == 2.0 and found["stopped_at"] == 1.0
    assert found["status"] == rr.FINER and not found["resolves"] and found["detectable"] == pytest.approx(0.06)
    # an interval that straddles -margin but is narrower than the margin: undecided, yet resolvable
    narrow = rr.lowest_within_margin(_walk((2.0, -0.01, 0.01), (1.0, -0.025, -0.01)), 0.02)
    assert narrow["status"] == rr.STRADDLES and narrow["resolves"]
    rank = {"margin": 0.02, "rows": [{"lowest_status": found["status"], "detectable": found["detectable"]},
                                     {"lowest_status": narrow["status"], "detectable": narrow["detectable"]}]}
    words = rr.resolution(rank)
    assert words["finer"] == 1 and "finer than the sample resolves for 1 of 2 codecs" in words["text"]
    assert "0.060" in words["text"] and words["resolves"] == "does not resolve"


def test_a_codec_comparison_needs_its_interval_beyond_the_margin():
    m = 0.025
    assert rr.compare(0.03, 0.05, m) == rr.BETTER
    assert rr.compare(-0.06, -0.03, m) == rr.WORSE
    assert rr.compare(-0.01, 0.02, m) == rr.WITHIN
    assert rr.compare(0.005, 0.019, m) == rr.WITHIN  # above 0 but not by the margin: not "better"
    assert rr.compare(0.005, 0.04, m) == rr.UNDECIDED  # excludes 0, straddles the margin
    assert rr.compare(-0.03, 0.01, m) == rr.UNDECIDED
    with pytest.raises(ValueError):
        rr.compare(0.0, 0.1, -0.01)
    assert rr.seed_agreed(rr.BETTER, [rr.BETTER, rr.BETTER, rr.UNDECIDED], 0.8) == (rr.UNDECIDED, 2)  # 3 of 3 needed
    assert rr.seed_agreed(rr.BETTER, [rr.BETTER] * 3, 0.8) == (rr.BETTER, 3)
    assert rr.seed_agreed(rr.UNDECIDED, [rr.UNDECIDED], 0.8) == (rr.UNDECIDED, 1)


# ------------------------------------------------------------------------------------------------
# seed-aware intervals
# ------------------------------------------------------------------------------------------------
def test_seed_image_replicates_are_seed_image_ci_s_draws():
    """The replicates behind the curves give evaluation.seed_image_ci's interval exactly (pooled) and
    seed_intervals' per-seed ones: one quantity, one interval, in every chapter that computes it."""
    from hdmann.methods import bootstrap, evaluation

    hits = (np.random.default_rng(3).random((3, 41)) < [[0.6], [0.7], [0.5]]).astype(float)
    r = bootstrap.seed_image_replicates(hits, 300, 5)
    value, low, high = evaluation.seed_image_ci(hits, 300, 5)
    assert r["value"] == value and tuple(np.nanpercentile(r["boot"], [2.5, 97.5])) == pytest.approx((low, high), abs=1e-12)
    per_seed, _ = evaluation.seed_intervals(hits, 300, 5)
    for s, (v, lo, hi) in enumerate(per_seed):
        assert r["seed_values"][s] == pytest.approx(v)
        assert tuple(np.nanpercentile(r["seed_boot"][:, s], [2.5, 97.5])) == pytest.approx((lo, hi), abs=1e-12)
    # one seed: the image bootstrap of that seed
    one = bootstrap.seed_image_replicates(hits[:1], 300, 5)
    assert np.allclose(one["boot"], one["seed_boot"][:, 0])


def test_resampling_seeds_widens_an_interval_by_the_seeds_spread():
    from hdmann.methods import bootstrap

    rng = np.random.default_rng(0)
    images = rng.normal(0, 0.01, (2000, 1))
    same = np.hstack([0.7 + images] * 3)
    assert np.allclose(bootstrap.resample_seeds(same, 1), same[:, 0])  # seeds that agree add nothing
    spread = 0.7 + images + np.array([[-0.04, 0.0, 0.04]])  # seeds 0.04 apart
    fixed = np.percentile(spread.mean(axis=1), [2.5, 97.5])
    drawn = np.percentile(bootstrap.resample_seeds(spread, 1), [2.5, 97.5])
    assert drawn[1] - drawn[0] > 2 * (fixed[1] - fixed[0])
    assert np.allclose(bootstrap.resample_seeds(spread[:, :1], 1), spread[:, 0])


def _study_a_sets(rng, n=60, seeds=2):
    """A synthetic Study A sweep: originals and two codecs at two settings, every seed's guesses."""
    labels = rng.integers(0, 4, n)
    sets = {}
    for key, right in (((ra.ORIGINAL, None), 0.7), (("jpeg420", 10), 0.5), (("jpeg420", 75), 0.68),
                       (("jxl", 15), 0.6), (("jxl", 85), 0.7)):
        guess = np.where(rng.random((seeds, n)) < right, labels, (labels + 1) % 4)
        s = {}
        for part in ("val", "test"):
            s |= {f"{part}_guess": guess, f"{part}_labels": labels, f"{part}_bytes": np.full(n, 100.0 * (key[1] or 100)),
                  f"{part}_bpp": np.full(n, 0.01 * (key[1] or 800)), f"{part}_psnr": np.full(n, 30.0),
                  f"{part}_ssim": np.full(n, 0.9)}
        sets[key] = s
    return sets


def test_study_a_curves_are_seed_means_with_seed_image_intervals():
    """Every point is the mean over the seeds' models; on originals value and interval are what
    evaluation.seed_image_ci gives on the seeds x images hit matrix (as Study A's chapter computes them)."""
    from hdmann.methods import evaluation

    cfg = config.codec_config("smoke")
    sets = _study_a_sets(np.random.default_rng(1))
    curve = rr.curves_from(cfg, "a", sets)["val"]
    hits = (sets[(ra.ORIGINAL, None)]["val_guess"] == sets[(ra.ORIGINAL, None)]["val_labels"]).astype(float)
    value, low, high = evaluation.seed_image_ci(hits, cfg.bootstrap_samples, cfg.bootstrap_seed)
    orig = curve[ra.ORIGINAL]
    assert orig["value"] == value and (orig["low"], orig["high"]) == pytest.approx((low, high), abs=0)
    assert orig["seeds"] == 2 and orig["seed_values"] == pytest.approx(hits.mean(axis=1))
    low_jxl = curve["jxl"][0]
    h = (sets[("jxl", 15)]["val_guess"] == sets[("jxl", 15)]["val_labels"]).astype(float)
    diff = evaluation.seed_image_ci(h - hits, cfg.bootstrap_samples, cfg.bootstrap_seed)  # paired: the same draws
    assert low_jxl["delta"] == pytest.approx(diff[0]) and (low_jxl["delta_low"], low_jxl["delta_high"]) == pytest.approx(diff[1:])


def test_study_b_curves_average_the_repeats_and_resample_them(monkeypatch):
    """Study B: each point is the mean of the repeats' pooled AUROCs (the Study B chapter's value), and
    its interval resamples patients and repeats."""
    from hdmann.studies.study_b import scores as sbs

    rng = np.random.default_rng(2)
    n, repeats = 80, 3
    labels = rng.integers(0, 2, n)
    patient = np.repeat(np.arange(20), 4)
    monkeypatch.setattr(rr.sbp, "patch_plan", lambda bcfg, data_root=None: type("P", (), {"patient": patient})())
    cfg = config.codec_config("smoke")
    cfg = cfg.replace(study_b=cfg.study_b.replace(patches=cfg.study_b.patches.replace(repeats=repeats)))
    sets = {}
    for key, signal in (((ra.ORIGINAL, None), 1.0), (("jpeg420", 20), 0.6), (("jpeg420", 80), 0.9),
                        (("jxl", 10), 0.7), (("jxl", 85), 1.0)):
        s = {"labels": labels, "film_ids": np.arange(20), "bytes": np.full(20, 1e4 * signal), "bpp": np.full(20, signal),
             "psnr_breast": np.full(20, 40.0), "patch_ssim": np.full(n, 0.95)}
        for r in range(repeats):
            for model in ("cnn", "features"):
                s[f"{model}_r{r}"] = labels * signal * (1 + 0.3 * r) + rng.normal(0, 1, n)
            s[f"fold_r{r}"] = np.arange(n) % 5
        sets[key] = s
    curve = rr.curves_from(cfg, "b", sets)["cnn"]
    orig = curve[ra.ORIGINAL]
    runs = [{"labels": labels, "fold": sets[(ra.ORIGINAL, None)][f"fold_r{r}"], "x": sets[(ra.ORIGINAL, None)][f"cnn_r{r}"]}
            for r in range(repeats)]
    weights = sbs.patient_weights(patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
    chapter, fixed = sbs.pooled_auroc_boot(runs, "x", weights)  # the Study B chapter's arithmetic
    assert orig["value"] == pytest.approx(chapter) and orig["seeds"] == repeats
    fixed_width = np.diff(np.percentile(fixed, [2.5, 97.5]))[0]
    assert orig["high"] - orig["low"] > fixed_width  # the repeats differ, so resampling them widens it


# ------------------------------------------------------------------------------------------------
# the claim record
# ------------------------------------------------------------------------------------------------
def _seeded_curve(offsets: dict, noise: float, seeds: int, seed_shift=None, n_boot=200, seed=0):
    """A synthetic curve per codec: value = 0.6 + offset + 0.05 log10(bpp), each seed shifted by
    ``seed_shift[s]`` for the codecs not JPEG, replicates with SD ``noise`` (one draw per seed and
    replicate, shared by every codec: paired)."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, noise, (n_boot, seeds))
    shift = np.zeros(seeds) if seed_shift is None else np.asarray(seed_shift)
    curve = {}
    for codec, offset in {ra.ORIGINAL: 0.0, **offsets}.items():
        pts = []
        for b in ((1.0,) if codec == ra.ORIGINAL else (0.2, 0.5, 1.0, 2.0)):
            v = 0.6 + offset + 0.05 * np.log10(b) + (0 if codec in (ra.ORIGINAL, "jpeg420") else shift)
            sv = np.full(seeds, 0.0) + v
            sb = sv + common + rng.normal(0, noise / 4, (n_boot, seeds))
            pts.append({"codec": codec, "setting": b, "bpp": b, "bytes": 100 * b, "value": float(sv.mean()),
                        "boot": sb.mean(axis=1), "seed_values": sv, "seed_boot": sb, "seeds": seeds,
                        "delta_low": -0.01, "delta_high": 0.01, "psnr": 30 + 10 * b + (codec == "webp"),
                        "ssim": 0.9, "n": 50})
        curve[codec] = pts[0] if codec == ra.ORIGINAL else pts
    return curve


def _c1(offsets, noise=0.003, test_offsets=None, seed_shift=None, reference="jpeg420"):
    from hdmann.studies.codecs import claims

    cfg = config.codec_config("smoke", reference=reference)
    seeds = cfg.study_a.seeds
    rankings = {"val": rr.ranking(cfg, _seeded_curve(offsets, noise, seeds, seed_shift), "val"),
                "test": rr.ranking(cfg, _seeded_curve(test_offsets or offsets, noise, seeds, seed=1), "test")}
    return claims.study_verdict(cfg, rankings, "a")


def test_c1_holds_when_a_newer_codec_is_better_beyond_the_margin_in_every_seed():
    v = _c1({"jpeg420": 0.0, "webp": 0.01, "jxl": 0.06})
    assert v.outcome == "holds" and v.seeds == 2 and v.seeds_agree == 2 and v.check == "confirms"
    assert v.effect.value == pytest.approx(0.06, abs=0.005) and "JPEG XL" in v.effect.what
    assert v.claim.id == "C1" and v.tag == "Study A" and "PSNR over the same range picks" in v.baseline


def test_c1_does_not_hold_when_every_newer_codec_is_within_the_margin():
    v = _c1({"jpeg420": 0.0, "webp": 0.0, "jxl": -0.01})
    assert v.outcome == "does not hold" and v.seeds_agree == 2


def test_c1_is_undecided_when_an_interval_straddles_the_margin_or_the_seeds_disagree():
    assert _c1({"jpeg420": 0.0, "jxl": 0.025}, noise=0.02).outcome == "undecided"
    # pooled, JPEG XL is better by 0.045, but one of the two seeds alone sees no gain at all
    split = _c1({"jpeg420": 0.0, "jxl": 0.03}, seed_shift=[0.06, -0.03])
    assert split.outcome == "undecided" and split.seeds_agree == 1


def test_c1_held_out_folder_can_contradict_and_untestable_runs_say_why():
    v = _c1({"jpeg420": 0.0, "jxl": 0.06}, test_offsets={"jpeg420": 0.0, "jxl": 0.0})
    assert v.outcome == "holds" and v.check == "contradicts"
    none = _c1({"jpeg420": 0.0, "jpeg444": 0.01})
    assert none.outcome == "not testable here" and "no codec newer than JPEG" in none.untested
    other = _c1({"webp": 0.0, "jxl": 0.06}, reference="webp")
    assert other.outcome == "not testable here" and "not JPEG" in other.untested


def test_codec_answer_draws_one_panel_per_study():
    import matplotlib.pyplot as plt

    from hdmann.studies.codecs import figures

    cfg = config.codec_config("smoke")
    rank = rr.ranking(cfg, _seeded_curve({"jpeg420": 0.0, "webp": 0.01, "jxl": 0.06}, 0.003, 2), "val")
    fig = figures.codec_answer({"panels": {"Study A": rank, "Study B": rank}, "held_out": {"Study A": rank},
                                "bd_margin": 0.025, "reference": "JPEG 4:2:0"})
    assert len(fig.axes) == 2 and "hollow" in fig.axes[0].get_title()
    plt.close(fig)


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
        bpp = [np.mean([coding.compress(im, name, s, metrics=False, **ra.effort(cfg, name)).bpp for im in images])
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
