"""The codec chapter's report: rate-accuracy curves over the training seeds with intervals, the margin
rules, BD-accuracy and the ranking. Nothing here trains or codes an image; everything reads
:mod:`hdmann.studies.codecs.pipeline`.

Every point of a curve is a seed mean: Study A over the models of every training seed
(:func:`hdmann.studies.study_a.pipeline.seed_configs`), Study B over the patch CNN's repeats on
originals, so the values on originals are the Study A and Study B chapters' own.

Intervals resample training seeds and images together. Study A: a seeds x images hit matrix, drawn
as :func:`hdmann.methods.evaluation.seed_image_ci` draws it (:func:`hdmann.methods.bootstrap.seed_image_replicates`).
Study B: patients are resampled (all patches of a drawn patient come along), each repeat's pooled
AUROC computed on every resample, then the repeats are resampled (:func:`hdmann.methods.bootstrap.resample_seeds`).
The same draws serve every codec and setting, so differences are paired. Each seed's own interval
(images or patients resampled, that seed alone) decides the seed-by-seed outcomes.

BD-accuracy (after Bjontegaard's BD-rate, VCEG-M33): accuracy is interpolated piecewise-linearly in
log10(bpp) between a codec's measured points (not with the cubic fit of BD-rate: accuracy curves are
neither smooth nor monotone), averaged over the bpp range every compared codec covers, and
differenced from the reference codec's average; the same resamples give its interval. A codec is
*better* or *worse* than the reference only when that interval lies wholly beyond ``bd_margin``,
*within the margin* when it lies wholly inside it, else *undecided*; and only when enough seeds reach
the same outcome on their own (``seed_agreement``).
"""
from __future__ import annotations

import numpy as np

from hdmann.engine import codecs
from hdmann.methods import bootstrap, evaluation
from hdmann.methods.words import count, listing
from hdmann.studies.codecs import pipeline as ra
from hdmann.studies.codecs.config import CodecConfig
from hdmann.studies.study_b import pipeline as sbp, report as sbr
from hdmann.studies.study_b.report import table_view  # noqa: F401  (the chapter's tables wrap as Study B's do)

METRICS = {"a": ("val", "test"), "b": ("cnn", "features")}
METRIC_LABELS = {"val": "Study A accuracy, reporting half of the validation part", "test": "Study A accuracy, test folder",
                 "cnn": "Study B AUROC, patch CNN", "features": "Study B AUROC, texture-feature baseline"}
STUDY_OF = {m: study for study, metrics in METRICS.items() for m in metrics}
# newer than JPEG: the codecs the chapter's question is about (JPEG 4:4:4 is JPEG with other chroma)
NEWER = ("jpeg2000", "webp", "avif", "jxl")
BETTER, WORSE, WITHIN, UNDECIDED, REFERENCE = "better", "worse", "within the margin", "undecided", "reference"


def _ci(values: np.ndarray) -> tuple[float, float]:
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def _finite_mean(values) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else float("inf")


def margin_of(cfg: CodecConfig, metric: str) -> float:
    """The loss against originals tolerated by the lowest-bpp rule: Study A's in accuracy, Study B's in AUROC."""
    return cfg.accuracy_margin if STUDY_OF[metric] == "a" else cfg.auroc_margin


def seed_agreement(cfg: CodecConfig, metric: str) -> float:
    return cfg.study_a.seed_agreement if STUDY_OF[metric] == "a" else cfg.study_b.seed_agreement


def seed_count(cfg: CodecConfig, study: str) -> int:
    """Training seeds behind every point of a study's curves."""
    return cfg.study_a.seeds if study == "a" else cfg.study_b.patch_repeats


# ------------------------------------------------------------------------------------------------
# curves: seed-mean value and paired replicates per (codec, setting)
# ------------------------------------------------------------------------------------------------
def _point(key, rep: dict, ref: dict, **stats) -> dict:
    low, high = _ci(rep["boot"])
    dlow, dhigh = _ci(rep["boot"] - ref["boot"])
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
    ``value`` is the mean over repeats, as :func:`hdmann.studies.study_b.report.pooled_auroc_boot` gives it."""
    seed_values = np.array([sbr.set_auroc(s, level) for s in sets])
    seed_boot = np.stack([sbr.pooled_auroc_boot([s], level, weights)[1] for s in sets], axis=1)  # (n_boot, repeats)
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
        weights = sbr.patient_weights(patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
        for model in METRICS["b"]:
            reps = {}
            for k, s in sets.items():
                runs = [{"labels": s["labels"], "fold": s[f"fold_r{r}"], "x": s[f"{model}_r{r}"]}
                        for r in range(bcfg.patch_repeats)]
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


# ------------------------------------------------------------------------------------------------
# the lowest bpp within the margin, and whether the sample resolves the margin
# ------------------------------------------------------------------------------------------------
FLOOR, LOSS, FINER, STRADDLES = ("every setting passes", "a loss beyond the margin", "margin finer than the sample resolves",
                                 "undecided")


def detectable(point: dict) -> float:
    """The smallest change from originals the sample can detect at a point: half the width of the
    paired 95 % interval of its difference from originals (seeds and images resampled)."""
    return (point["delta_high"] - point["delta_low"]) / 2


def lowest_within_margin(points: list[dict], margin: float) -> dict:
    """The lowest bpp down to which the codec stays within ``margin`` of originals: walking from its
    highest bpp down, every point's paired 95 % interval of the difference from originals must reach
    above ``-margin`` (a loss larger than the margin is not shown). ``None`` where its highest point
    already fails; ``floor_reached`` says whether the walk stopped at the codec's lowest point.

    Why the walk stopped (``status``): at :data:`LOSS` the interval lies wholly below ``-margin``;
    at :data:`FINER` it straddles ``-margin`` and is wider than the margin on each side, so a codec
    with no loss at all could not pass there: the margin is finer than the sample resolves and the
    bpp found says more about the sample's size than about the codec; :data:`STRADDLES` otherwise.
    ``detectable`` is :func:`detectable` at the setting considered (where the walk stopped, else the
    lowest point), to set beside the margin."""
    ordered = sorted(points, key=lambda p: -p["bpp"])
    last = stop = None
    for p in ordered:
        if p["delta_low"] < -margin:
            stop = p
            break
        last = p
    considered = stop if stop is not None else ordered[-1]
    smallest = detectable(considered)
    if stop is None:
        status = FLOOR
    elif stop["delta_high"] < -margin:
        status = LOSS
    elif smallest > margin:
        status = FINER
    else:
        status = STRADDLES
    return {"bpp": None if last is None else last["bpp"], "bytes": None if last is None else last["bytes"],
            "setting": None if last is None else last["setting"], "floor_reached": stop is None,
            "stopped_at": None if stop is None else stop["bpp"], "detectable": smallest, "status": status,
            "resolves": status != FINER}


MARGIN_RULE = ("walking from a codec's highest bpp down, the lower end of the paired 95 % interval of "
               "(value after the codec) minus (value on originals) stays above minus the margin")
RESOLUTION_RULE = ("Where a walk stops on an interval wider than the margin on each side, even a codec that lost nothing "
                   "could not pass. The lowest bpp there reflects the sample's size more than the codec.")


# ------------------------------------------------------------------------------------------------
# BD-accuracy
# ------------------------------------------------------------------------------------------------
def interp_weights(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Weights w with sum(w * y) = the mean over [lo, hi] of the piecewise-linear interpolant of y at
    the sorted, distinct positions ``x`` (``lo``/``hi`` inside their span). Linear in y, so one
    weight vector serves every bootstrap replicate."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2 or np.any(np.diff(x) <= 0):
        raise ValueError(f"interp_weights needs at least two increasing positions, got {x}")
    if not (x[0] <= lo < hi <= x[-1]):
        raise ValueError(f"range [{lo}, {hi}] must lie inside [{x[0]}, {x[-1]}] and not be empty")
    grid = np.unique(np.concatenate([[lo, hi], x[(x > lo) & (x < hi)]]))
    basis = np.stack([np.interp(grid, x, e) for e in np.eye(len(x))], axis=1)  # (G, n)
    trapezoid = np.zeros(len(grid))
    step = np.diff(grid)
    trapezoid[:-1] += step / 2
    trapezoid[1:] += step / 2
    return trapezoid @ basis / (hi - lo)


def _log_positions(points: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log10(bpp), values and replicates with equal bpp merged (a codec floor repeats a size)."""
    x = np.log10([p["bpp"] for p in points])
    value = np.array([p["value"] for p in points])
    boot = np.stack([p["boot"] for p in points])
    ux, inverse = np.unique(x, return_inverse=True)
    merged_v = np.array([value[inverse == i].mean() for i in range(len(ux))])
    merged_b = np.stack([boot[inverse == i].mean(axis=0) for i in range(len(ux))])
    return ux, merged_v, merged_b


def common_range(curve: dict, names) -> tuple[float, float] | None:
    """The bpp range that every named codec's points span (None if they share none)."""
    spans = [(min(p["bpp"] for p in curve[c]), max(p["bpp"] for p in curve[c])) for c in names
             if c in curve and len({p["bpp"] for p in curve[c]}) >= 2]
    if len(spans) < len([c for c in names if c in curve]) or not spans:
        return None
    lo, hi = max(s[0] for s in spans), min(s[1] for s in spans)
    return (lo, hi) if lo < hi else None


def bd_accuracy(points_a: list[dict], points_b: list[dict], lo: float, hi: float) -> tuple[float, np.ndarray]:
    """Mean value of curve a minus that of curve b over bpp in [lo, hi] (log scale), and its replicates."""
    means = []
    for pts in (points_a, points_b):
        x, v, b = _log_positions(pts)
        w = interp_weights(x, np.log10(lo), np.log10(hi))
        means.append((float(w @ v), w @ b))
    return means[0][0] - means[1][0], means[0][1] - means[1][1]


def compare(low: float, high: float, margin: float) -> str:
    """A codec against the reference from the 95 % interval of its BD difference: *better* (worse) when
    it lies wholly above ``+margin`` (below ``-margin``), *within the margin* when it lies wholly
    between them, else *undecided*."""
    if not margin >= 0:
        raise ValueError(f"margin={margin!r}: a practical margin is >= 0")
    if low > margin:
        return BETTER
    if high < -margin:
        return WORSE
    if low > -margin and high < margin:
        return WITHIN
    return UNDECIDED


def seed_agreed(pooled: str, per_seed: list[str], share: float) -> tuple[str, int]:
    """(outcome, seeds that reach it): the seed-pooled outcome, kept only when at least ``share`` of
    the seeds (rounded up) reach it on their own; else *undecided*."""
    agree = sum(o == pooled for o in per_seed)
    if pooled == UNDECIDED or not per_seed or agree < evaluation.seeds_needed(len(per_seed), share):
        return UNDECIDED, agree
    return pooled, agree


def compare_rule(cfg: CodecConfig) -> str:
    """The comparison rule in words, with its margin and seed agreement."""
    m = cfg.bd_margin
    shares = {cfg.study_a.seed_agreement, cfg.study_b.seed_agreement}
    share = (f"{shares.pop() * 100:.0f} %" if len(shares) == 1 else
             f"{cfg.study_a.seed_agreement * 100:.0f} % (Study A) or {cfg.study_b.seed_agreement * 100:.0f} % (Study B)")
    return (f"better (worse) when that interval lies wholly above +{m:g} (below −{m:g}), within the margin when it lies "
            f"wholly between the two, else undecided. Each seed alone is decided the same way on its own interval; an "
            f"outcome stands only when at least {share} of the seeds (rounded up) reach it")


def ranking(cfg: CodecConfig, curve: dict, metric: str, margin: float | None = None) -> dict:
    """Per codec: its mean value over the common bpp range, its BD difference from the reference codec
    (seed mean, with an interval that resamples seeds and images, and each seed's own), its outcome
    against the reference by :func:`compare` with ``bd_margin`` and the seed agreement rule, and its
    lowest bpp within ``margin`` (default: the metric's) with what the sample resolves there; ranked
    by the BD difference."""
    names = [c for c in curve if c != ra.ORIGINAL]
    span = common_range(curve, names)
    reference = cfg.reference if cfg.reference in names else (names[0] if names else None)
    margin = margin_of(cfg, metric) if margin is None else margin
    share = seed_agreement(cfg, metric)
    n_seeds = curve[ra.ORIGINAL]["seeds"]
    rows = []
    for codec in names:
        low_bpp = lowest_within_margin(curve[codec], margin)
        row = {"metric": metric, "codec": codecs.CODECS[codec].label, "name": codec,
               "lowest_bpp_within_margin": low_bpp["bpp"], "bytes_there": low_bpp["bytes"],
               "setting_there": low_bpp["setting"], "floor_reached": low_bpp["floor_reached"],
               "lowest_status": low_bpp["status"], "detectable": low_bpp["detectable"], "resolves": low_bpp["resolves"],
               "bpp_min": min(p["bpp"] for p in curve[codec]), "bpp_max": max(p["bpp"] for p in curve[codec])}
        if span is not None:
            x, v, b = _log_positions(curve[codec])
            w = interp_weights(x, np.log10(span[0]), np.log10(span[1]))
            mean_low, mean_high = _ci(w @ b)
            d, d_boot = bd_accuracy(curve[codec], curve[reference], *span)
            seed_bd = [bd_accuracy(seed_curve(curve[codec], s), seed_curve(curve[reference], s), *span)
                       for s in range(n_seeds)]
            if codec == reference:
                d_low = d_high = 0.0
                pooled = verdict = REFERENCE
                per_seed, seed_ci, agree = [], [], None
            else:
                d_low, d_high = _ci(d_boot)
                seed_ci = [_ci(sb) for _, sb in seed_bd]
                pooled = compare(d_low, d_high, cfg.bd_margin)
                per_seed = [compare(lo, hi, cfg.bd_margin) for lo, hi in seed_ci]
                verdict, agree = seed_agreed(pooled, per_seed, share)
            pts = sorted(curve[codec], key=lambda p: p["bpp"])
            _, first = np.unique(np.log10([p["bpp"] for p in pts]), return_index=True)
            psnr = np.array([pts[i]["psnr"] for i in first])
            ssim = np.array([pts[i]["ssim"] for i in first])
            row.update({"mean_over_range": float(w @ v), "mean_low": mean_low, "mean_high": mean_high,
                        "bd_vs_reference": d, "bd_low": d_low, "bd_high": d_high,
                        "bd_seed_values": [float(sd) for sd, _ in seed_bd], "bd_seed_ci": seed_ci,
                        "seed_outcomes": per_seed, "seeds_agree": agree, "seeds": n_seeds,
                        "pooled_verdict": pooled, "verdict": verdict,
                        "psnr_over_range": float(w @ psnr), "ssim_over_range": float(w @ ssim)})
        rows.append(row)
    if span is not None:
        rows.sort(key=lambda r: -r["bd_vs_reference"])
        for i, r in enumerate(rows):
            r["rank"] = i + 1
    return {"rows": rows, "range": span, "reference": reference, "margin": margin, "bd_margin": cfg.bd_margin,
            "seeds": n_seeds, "share": share, "metric": metric}


def study_labels(study: str) -> tuple[str, ...]:
    return METRICS[study]


def original_value(curve: dict) -> dict:
    p = curve[ra.ORIGINAL]
    return {"value": p["value"], "low": p["low"], "high": p["high"], "n": p["n"], "seeds": p["seeds"]}


def seed_words(n: int, what: str = "training seed") -> str:
    """"the mean over 3 training seeds", or "one training seed" where the profile trains one."""
    return f"the mean over {count(n, what)}" if n > 1 else f"one {what} (this profile trains one)"


def study_a_check(cfg: CodecConfig, curve: dict, data_root=None) -> dict:
    """The Study A chapter's seed-mean accuracy on originals per part (from its own predictions of every
    seed's model, :func:`hdmann.studies.study_a.report.hits`), beside the one computed here from the
    same models: equal, unless the models read here are not that chapter's."""
    from hdmann.studies.study_a import report as sar

    out = {}
    for part in METRICS["a"]:
        chapter = float(sar.hits(cfg.study_a, data_root, part, "original").mean())
        here = curve[part][ra.ORIGINAL]["value"]
        out[part] = {"chapter": chapter, "here": here, "equal": bool(abs(chapter - here) < 1e-9)}
    return out


def study_b_check(cfg: CodecConfig, curve: dict, data_root=None) -> dict:
    """The Study B chapter's pooled CNN AUROC on originals (its own stage, the mean over its repeats),
    beside the one recomputed here from the same fold models: equal, unless the models read here are
    not that chapter's."""
    bcfg = cfg.study_b
    sets = sbr.score_sets(bcfg, "cnn", sbp.ORIGINAL, "malignant", data_root)
    weights = sbr.patient_weights(sbp.patch_plan(bcfg, data_root).patient, 10, cfg.bootstrap_seed)
    chapter, _ = sbr.pooled_auroc_boot(sets, sbp.ORIGINAL, weights)
    here = curve["cnn"][ra.ORIGINAL]["value"]
    return {"chapter": chapter, "here": here, "equal": bool(abs(chapter - here) < 1e-6)}


def originals(cfg: CodecConfig, result: dict, data_root=None) -> dict:
    """What the prose says of originals, per study: each metric's seed mean with its interval, the
    sample sizes, the seeds behind it, and whether it equals the value the study's own chapter glues."""
    curve_a, curve_b = result["curves"]["a"], result["curves"]["b"]
    out = {"a_seeds": seed_words(seed_count(cfg, "a")), "b_seeds": seed_words(seed_count(cfg, "b")),
           "seed_rule": ("intervals resample the training seeds and the images together (the same draws for every "
                         "codec and setting, so differences are paired)")}
    for part in METRICS["a"]:
        ref = original_value(curve_a[part])
        out |= {f"a_{part}_orig": ref["value"], f"a_{part}_orig_low": ref["low"], f"a_{part}_orig_high": ref["high"],
                f"a_{part}_n": ref["n"]}
    check_a = study_a_check(cfg, curve_a, data_root)
    out["a_check"] = "equal" if all(c["equal"] for c in check_a.values()) else "differ from"
    out["a_check_val"], out["a_check_test"] = check_a["val"]["chapter"], check_a["test"]["chapter"]
    for model in METRICS["b"]:
        ref = original_value(curve_b[model])
        out |= {f"b_{model}_orig": ref["value"], f"b_{model}_orig_low": ref["low"], f"b_{model}_orig_high": ref["high"]}
    out["b_patches"] = original_value(curve_b["cnn"])["n"]
    check_b = study_b_check(cfg, curve_b, data_root)
    out["b_check"] = "equals" if check_b["equal"] else "differs from"
    out["b_check_chapter"] = check_b["chapter"]
    return out


def _outcome_words(row: dict) -> str:
    """"better (3 of 3 seeds)", "undecided (the seeds pooled: better; 1 of 3 seeds alone)", "undecided"."""
    n = row["seeds"]
    if row["verdict"] == REFERENCE:
        return REFERENCE
    if row["verdict"] != UNDECIDED:
        return row["verdict"] + (f" ({row['seeds_agree']} of {n} seeds)" if n > 1 else "")
    if row["pooled_verdict"] != UNDECIDED:
        return f"undecided (the seeds pooled: {row['pooled_verdict']}; {row['seeds_agree']} of {n} seeds alone)"
    return UNDECIDED


def _by(rows: list[dict], verdict: str) -> str:
    return listing(r["codec"] for r in rows if r["verdict"] == verdict) or "none"


def resolution(rank: dict) -> dict:
    """Whether the sample resolves the lowest-bpp rule's margin: for how many codecs the walk stopped
    on an interval wider than the margin, and the smallest detectable change where each walk stopped."""
    rows = rank["rows"]
    m = rank["margin"]
    finer = [r for r in rows if r["lowest_status"] == FINER]
    shown = finer or rows
    lo, hi = min(r["detectable"] for r in shown), max(r["detectable"] for r in shown)
    span = f"{lo:.3f}" if abs(hi - lo) < 5e-4 else f"{lo:.3f} to {hi:.3f}"
    if not finer:
        text = f"resolved for every codec (the smallest detectable change where each walk stopped: {span})"
    else:
        text = (f"finer than the sample resolves for {len(finer)} of {len(rows)} codecs (the smallest detectable change "
                f"where their walk stopped: {span}, against a margin of {m:g})")
    return {"finer": len(finer), "codecs": len(rows), "detectable_low": lo, "detectable_high": hi, "text": text,
            "resolves": "resolves" if not finer else "does not resolve"}


def summary(rank: dict) -> dict:
    """The ranking in words and the codecs a perceptual metric would pick, for the prose."""
    rows = [r for r in rank["rows"] if "bd_vs_reference" in r]
    res = resolution(rank)["text"] if rank["rows"] else "not computed"
    if not rows:
        return {"best": "none", "text": "the codecs share no bits-per-pixel range, so no average difference is defined",
                "best_psnr": "none", "best_ssim": "none", "agrees_psnr": "cannot be compared", "range": "none",
                "better": "none", "worse": "none", "within": "none", "undecided": "none", "resolution": res}
    best = rows[0]
    ref = codecs.CODECS[rank["reference"]].label
    if best["name"] == rank["reference"]:
        text = f"the reference, {ref}, ranks first"
    else:
        text = (f"{best['codec']} ranks first, {best['bd_vs_reference']:+.3f} against {ref} (95 % interval "
                f"{best['bd_low']:+.3f} to {best['bd_high']:+.3f}): {_outcome_words(best)}")
    by_psnr = max(rows, key=lambda r: r["psnr_over_range"])
    by_ssim = max(rows, key=lambda r: r["ssim_over_range"])
    return {"best": best["codec"], "text": text, "best_psnr": by_psnr["codec"], "best_ssim": by_ssim["codec"],
            "agrees_psnr": "agrees" if by_psnr["name"] == best["name"] else "disagrees",
            "range": f"{rank['range'][0]:.3g} to {rank['range'][1]:.3g} bpp",
            "better": _by(rows, BETTER), "worse": _by(rows, WORSE), "within": _by(rows, WITHIN),
            "undecided": _by(rows, UNDECIDED), "resolution": res}


def ranking_table(rankings: dict) -> list[dict]:
    """All rankings as one table (one row per metric and codec)."""
    keep = ("metric", "rank", "codec", "bd_vs_reference", "bd_low", "bd_high", "verdict", "seeds", "mean_over_range",
            "mean_low", "mean_high", "lowest_bpp_within_margin", "bytes_there", "setting_there", "lowest_status",
            "detectable", "psnr_over_range", "ssim_over_range")
    out = []
    for rank in rankings.values():
        for r in rank["rows"]:
            seeds = "—" if r.get("seeds_agree") is None else f"{r['seeds_agree']} of {r['seeds']}"
            out.append({k: r.get(k) for k in keep} | {"metric": METRIC_LABELS[r["metric"]], "seeds": seeds})
    return out


def analysis(cfg: CodecConfig, names, data_root=None) -> dict:
    """Both studies' curves over ``names`` and every metric's ranking: what the chapter, its verdict and
    the landing page's figure read (``{"curves": {study: ...}, "rankings": {metric: ...}}``)."""
    curves_by_study = {study: curves(cfg, study, names, data_root) for study in ra.STUDIES}
    rankings = {metric: ranking(cfg, curve, metric) for study in ra.STUDIES
                for metric, curve in curves_by_study[study].items()}
    return {"curves": curves_by_study, "rankings": rankings}


def chapter_values(cfg: CodecConfig, names, missing) -> dict:
    """The chapter's opening values: which codecs ran (and which could not, and why), its margins,
    rules and resampling."""
    return {"n_codecs": len(names), "codec_list": ", ".join(codecs.CODECS[c].label for c in names),
            "missing_text": "; ".join(m["reason"] for m in missing) if missing
            else "none: every requested codec's library is installed",
            "accuracy_margin": cfg.accuracy_margin, "auroc_margin": cfg.auroc_margin, "bd_margin": cfg.bd_margin,
            "margin_rule": MARGIN_RULE, "resolution_rule": RESOLUTION_RULE, "compare_rule": compare_rule(cfg),
            "bootstrap_samples": cfg.bootstrap_samples}


def ranking_values(rankings: dict) -> dict:
    """Per metric, the ranking's words (:func:`summary`) and per codec its BD difference and lowest bpp,
    for the prose: ``{metric: {"words": ..., "codecs": {codec: {...}}}}``."""
    refs = dict.fromkeys(codecs.CODECS[r["reference"]].label for r in rankings.values() if r["reference"])
    out = {"reference": " / ".join(refs), "metrics": {}}
    for metric, rank in rankings.items():
        per_codec = {}
        for row in rank["rows"]:
            low = row["lowest_bpp_within_margin"]
            per_codec[row["name"]] = {"low": low if low is not None else float("nan"), "detectable": row["detectable"],
                                      **({"bd": row["bd_vs_reference"], "bd_low": row["bd_low"], "bd_high": row["bd_high"]}
                                         if "bd_vs_reference" in row else {})}
        out["metrics"][metric] = {"words": summary(rank), "codecs": per_codec}
    return out


def answer(profile: str, data_root=None, overrides: dict | None = None, names=None) -> dict:
    """What the landing page's codec figure (:func:`hdmann.studies.codecs.figures.codec_answer`) needs, in
    one call: per study the ranking that decides the chapter's verdict (Study A's reporting half, with
    its test folder as the held-out check; Study B's patch CNN), the practical margin and the reference."""
    from hdmann.studies.codecs.config import codec_config

    cfg = codec_config(profile, overrides)
    usable, _ = ra.usable(list(names or cfg.codecs))
    return answer_from(cfg, analysis(cfg, usable, data_root)["rankings"])


def answer_from(cfg: CodecConfig, rankings: dict) -> dict:
    """:func:`answer` from rankings already computed (the chapter's)."""
    return {"panels": {"Study A: HD-MANN accuracy": rankings["val"], "Study B: patch CNN AUROC": rankings["cnn"]},
            "held_out": {"Study A: HD-MANN accuracy": rankings["test"]}, "bd_margin": cfg.bd_margin,
            "reference": codecs.CODECS[cfg.reference].label, "profile": cfg.profile}


def settings_table(cfg: CodecConfig, names) -> list[dict]:
    """The knob ladder of each codec on each dataset, and the encoder preset used."""
    preset = {"webp": f"method {cfg.webp_method}", "avif": f"speed {cfg.avif_speed}", "jxl": f"effort {cfg.jxl_effort}"}
    rows = []
    for codec in names:
        spec = codecs.CODECS[codec]
        rows.append({"codec": spec.label, "library": spec.library, "knob": spec.knob, "preset": preset.get(codec, "-"),
                     "ISIC (Study A)": ", ".join(f"{v:g}" for v in ra.settings(cfg, "a", codec)) or "not run",
                     "MIAS films (Study B)": ", ".join(f"{v:g}" for v in ra.settings(cfg, "b", codec))
                     or "not run (grey films: same as 4:2:0)"})
    return rows


def bytes_per_bpp(curve: dict) -> float:
    """Bytes per image (film) at 1 bpp, from what was measured: pixels / 8 (every image of a dataset has one size)."""
    points = [p for codec, pts in curve.items() if codec != ra.ORIGINAL for p in pts]
    return float(np.median([p["bytes"] / p["bpp"] for p in points])) if points else float("nan")


def image_side(curve: dict) -> int:
    """The side in pixels of the (square) images a study's curve coded, from what was measured
    (:func:`bytes_per_bpp`: pixels / 8)."""
    return int(round(np.sqrt(8 * bytes_per_bpp(curve))))


def versions_display(rows: list[dict]):
    """The codec libraries this build used, as the page shows them."""
    import pandas as pd

    return pd.DataFrame([{"Codec": r["label"], "Library": r["library"], "Version": r["version"] or "—",
                          "Installed": "yes" if r["available"] else "no"} for r in rows])


SETTINGS_COLUMNS = {"codec": "Codec", "library": "Library", "knob": "Knob", "preset": "Encoder preset",
                    "ISIC (Study A)": "ISIC settings (Study A)", "MIAS films (Study B)": "MIAS settings (Study B)"}
SHORT_METRICS = {"val": "Study A, reporting half", "test": "Study A, test folder", "cnn": "Study B, patch CNN",
                 "features": "Study B, texture features"}


def ranking_display(rankings: dict):
    """The ranking as the page shows it: per classifier and codec, the BD difference from the reference
    with its interval and outcome, the lowest bpp within the margin and why the walk stopped there; the
    CSV (:func:`ranking_table`) keeps every column."""
    import pandas as pd

    rows = []
    for metric, rank in rankings.items():
        for r in rank["rows"]:
            bd = ("—" if "bd_vs_reference" not in r else "reference" if r["verdict"] == REFERENCE else
                  f"{r['bd_vs_reference']:+.3f} ({r['bd_low']:+.3f} to {r['bd_high']:+.3f})")
            low = r["lowest_bpp_within_margin"]
            rows.append({"Classifier": SHORT_METRICS[metric], "Rank": r.get("rank", "—"), "Codec": r["codec"],
                         "BD difference (95 % interval)": bd,
                         "Outcome": _outcome_words(r) if "verdict" in r else "—",
                         "Lowest bpp within the margin": "—" if low is None else f"{low:.3g}",
                         "Why the walk stopped": r["lowest_status"],
                         "Smallest detectable change": f"{r['detectable']:.3f}"})
    return pd.DataFrame(rows)
