"""The codec chapter's rate-accuracy curves: per codec and setting, each metric's seed mean with intervals
that resample training seeds and images together (the same draws for every codec and setting, so differences
are paired), and each seed's own values."""
from __future__ import annotations

import numpy as np

from hdmann.engine import codecs
from hdmann.methods import bootstrap
from hdmann.studies.codecs import pipeline as ra
from hdmann.studies.codecs.config import CodecConfig
from hdmann.studies.study_b import pipeline as sbp, scores as sbs

METRICS = {"a": ("val", "test"), "b": ("cnn", "features")}
METRIC_LABELS = {"val": "Study A accuracy, reporting half of the validation part", "test": "Study A accuracy, test folder",
                 "cnn": "Study B AUROC, patch CNN", "features": "Study B AUROC, texture-feature baseline"}
STUDY_OF = {m: study for study, metrics in METRICS.items() for m in metrics}


def _finite_mean(values) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else float("inf")


def margin_of(cfg: CodecConfig, metric: str) -> float:
    """The loss against originals tolerated by the lowest-bpp rule: Study A's in accuracy, Study B's in AUROC."""
    return cfg.accuracy_margin if STUDY_OF[metric] == "a" else cfg.auroc_margin


def seed_agreement(cfg: CodecConfig, metric: str) -> float:
    return cfg.study_a.seed_agreement if STUDY_OF[metric] == "a" else cfg.study_b.patches.seed_agreement


def seed_count(cfg: CodecConfig, study: str) -> int:
    """Training seeds behind every point of a study's curves."""
    return cfg.study_a.seeds if study == "a" else cfg.study_b.patches.repeats


def _point(key, rep: dict, ref: dict, **stats) -> dict:
    low, high = bootstrap.interval(rep["boot"])
    dlow, dhigh = bootstrap.paired_interval(rep["boot"], ref["boot"])
    codec, setting = key
    return {"codec": codec, "setting": setting, "value": rep["value"], "low": low, "high": high,
            "delta": rep["value"] - ref["value"], "delta_low": dlow, "delta_high": dhigh, "boot": rep["boot"],
            "seed_values": np.asarray(rep["seed_values"]), "seed_boot": rep["seed_boot"],
            "seeds": int(len(rep["seed_values"])), **stats}


def study_a_replicates(guesses: np.ndarray, labels: np.ndarray, n_boot: int, seed: int) -> dict:
    """One coded set of Study A: the (seeds x images) hits of every seed's model, bootstrapped over seeds
    and images (:func:`hdmann.methods.bootstrap.seed_image_replicates`)."""
    hits = (np.atleast_2d(guesses) == np.asarray(labels)[None, :]).astype(np.float64)
    return bootstrap.seed_image_replicates(hits, n_boot, seed)


def study_b_replicates(sets: list[dict], level: str, weights: np.ndarray, seed: int) -> dict:
    """One coded set of Study B: each repeat's pooled out-of-fold AUROC and its value on every patient
    resample (``weights``), then the repeats resampled (:func:`hdmann.methods.bootstrap.resample_seeds`).
    ``value`` is the mean over repeats, as :func:`hdmann.studies.study_b.scores.pooled_auroc_boot` gives it."""
    seed_values = np.array([sbs.set_auroc(s, level) for s in sets])
    seed_boot = np.stack([sbs.pooled_auroc_boot([s], level, weights)[1] for s in sets], axis=1)  # (n_boot, repeats)
    return {"value": float(seed_values.mean()), "boot": bootstrap.resample_seeds(seed_boot, seed),
            "seed_values": seed_values, "seed_boot": seed_boot}


def curves(cfg: CodecConfig, study: str, names, data_root=None) -> dict:
    """``{metric: {"original": point, codec: [points sorted by bpp]}}`` for one study.

    A point holds the seed mean of the metric (accuracy or pooled AUROC) with its 95 % interval
    (seeds and images resampled), its paired difference from originals with interval, the replicates
    (``boot``), each seed's value and replicates (``seed_values``, ``seed_boot``), and the mean bpp,
    bytes, PSNR and SSIM of what was coded (Study B: bytes and bpp per film, PSNR inside the breast,
    SSIM of the patches the classifier reads)."""
    return curves_from(cfg, study, ra.sweep(cfg, study, names, data_root), data_root)


def curves_from(cfg: CodecConfig, study: str, sets: dict, data_root=None) -> dict:
    """:func:`curves` from the sets of a sweep (``{(codec, setting): stage output}``)."""
    out = {}
    ref_key = (ra.ORIGINAL, None)
    if study == "a":
        for part in METRICS["a"]:
            reps = {k: study_a_replicates(s[f"{part}_guess"], s[f"{part}_labels"], cfg.bootstrap_samples,
                                          cfg.bootstrap_seed) for k, s in sets.items()}
            out[part] = _collect(sets, reps, ref_key,
                                 lambda s: {"bpp": float(np.mean(s[f"{part}_bpp"])), "bytes": float(np.mean(s[f"{part}_bytes"])),
                                            "psnr": _finite_mean(s[f"{part}_psnr"]), "ssim": float(np.mean(s[f"{part}_ssim"])),
                                            "n": int(len(s[f"{part}_labels"]))})
    else:
        bcfg = cfg.study_b
        patient = sbp.patch_plan(bcfg, data_root).patient
        weights = sbs.patient_weights(patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
        for model in METRICS["b"]:
            reps = {}
            for k, s in sets.items():
                runs = [{"labels": s["labels"], "fold": s[f"fold_r{r}"], "x": s[f"{model}_r{r}"]}
                        for r in range(bcfg.patches.repeats)]
                reps[k] = study_b_replicates(runs, "x", weights, cfg.bootstrap_seed + 1)
            out[model] = _collect(sets, reps, ref_key,
                                  lambda s: {"bpp": float(np.mean(s["bpp"])), "bytes": float(np.mean(s["bytes"])),
                                             "psnr": _finite_mean(s["psnr_breast"]), "ssim": float(np.mean(s["patch_ssim"])),
                                             "n": int(np.sum(s["labels"] >= 0)), "films": int(len(s["bytes"]))})
    return out


def _collect(sets, reps, ref_key, stats) -> dict:
    ref = reps[ref_key]
    out = {ra.ORIGINAL: _point(ref_key, ref, ref, **stats(sets[ref_key]))}
    for key, s in sets.items():
        if key == ref_key:
            continue
        out.setdefault(key[0], []).append(_point(key, reps[key], ref, **stats(s)))
    for codec in out:
        if codec != ra.ORIGINAL:
            out[codec].sort(key=lambda p: p["bpp"])
    return out


def seed_curve(points: list[dict], s: int) -> list[dict]:
    """One training seed's points of a curve: its own value and replicates (images resampled, that seed alone)."""
    return [{**p, "value": float(p["seed_values"][s]), "boot": p["seed_boot"][:, s]} for p in points]


_ARRAYS = ("boot", "seed_boot", "seed_values", "codec", "setting")


def points_table(curve: dict, metric: str) -> list[dict]:
    """Every point of one metric as table rows (no bootstrap replicates)."""
    rows = []
    for codec, points in curve.items():
        for p in ([points] if codec == ra.ORIGINAL else points):
            rows.append({"metric": metric, "codec": codecs.CODECS[codec].label if codec in codecs.CODECS else codec,
                         "setting": p["setting"], **{k: v for k, v in p.items() if k not in _ARRAYS}})
    return rows


def study_labels(study: str) -> tuple[str, ...]:
    return METRICS[study]


def original_value(curve: dict) -> dict:
    p = curve[ra.ORIGINAL]
    return {"value": p["value"], "low": p["low"], "high": p["high"], "n": p["n"], "seeds": p["seeds"]}


def bytes_per_bpp(curve: dict) -> float:
    """Bytes per image (film) at 1 bpp, from what was measured: pixels / 8 (every image of a dataset has one size)."""
    points = [p for codec, pts in curve.items() if codec != ra.ORIGINAL for p in pts]
    return float(np.median([p["bytes"] / p["bpp"] for p in points])) if points else float("nan")


def image_side(curve: dict) -> int:
    """The side in pixels of the (square) images a study's curve coded, from what was measured
    (:func:`bytes_per_bpp`: pixels / 8)."""
    return int(round(np.sqrt(8 * bytes_per_bpp(curve))))
