"""The codec chapter's report: rate-accuracy curves with intervals, the margin rule, BD-accuracy and
the ranking. Nothing here trains or codes an image; everything reads :mod:`hdmann.studies.codecs.pipeline`.

Intervals. Study A: images are resampled with replacement (the same resamples for every codec and
setting, so differences are paired). Study B: patients are resampled (all patches of a drawn patient
come along), the AUROC pooled over the held-out folds and averaged over repeats, as in
:mod:`hdmann.studies.study_b.report`.

BD-accuracy (after Bjontegaard's BD-rate, VCEG-M33): accuracy is interpolated piecewise-linearly in
log10(bpp) between a codec's measured points (not with the cubic fit of BD-rate: accuracy curves are
neither smooth nor monotone), averaged over the bpp range every compared codec covers, and
differenced from the reference codec's average; the same resamples give its interval.
"""
from __future__ import annotations

import numpy as np

from hdmann.engine import codecs
from hdmann.studies.codecs import pipeline as ra
from hdmann.studies.codecs.config import CodecConfig
from hdmann.studies.study_b import pipeline as sbp, report as sbr

METRICS = {"a": ("val", "test"), "b": ("cnn", "features")}
METRIC_LABELS = {"val": "Study A accuracy, reporting half of the validation part", "test": "Study A accuracy, test folder",
                 "cnn": "Study B AUROC, patch CNN", "features": "Study B AUROC, texture-feature baseline"}


def _ci(values: np.ndarray) -> tuple[float, float]:
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def _finite_mean(values) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else float("inf")


# ------------------------------------------------------------------------------------------------
# curves: value and bootstrap replicates per (codec, setting)
# ------------------------------------------------------------------------------------------------
def _point(key, s, value, boot, ref_value, ref_boot, **stats) -> dict:
    low, high = _ci(boot)
    dlow, dhigh = _ci(boot - ref_boot)
    codec, setting = key
    return {"codec": codec, "setting": setting, "value": value, "low": low, "high": high,
            "delta": value - ref_value, "delta_low": dlow, "delta_high": dhigh, "boot": boot, **stats}


def curves(cfg: CodecConfig, study: str, names, data_root=None) -> dict:
    """``{metric: {"original": point, codec: [points sorted by bpp]}}`` for one study.

    A point holds the metric (accuracy or pooled AUROC) with its 95 % interval, its paired difference
    from originals with interval, the bootstrap replicates (``boot``), and the mean bpp, bytes, PSNR
    and SSIM of what was coded (Study B: bytes and bpp per film, PSNR inside the breast, SSIM of the
    patches the classifier reads)."""
    sets = ra.sweep(cfg, study, names, data_root)
    out = {}
    if study == "a":
        for part in METRICS["a"]:
            ref = sets[(ra.ORIGINAL, None)]
            n = len(ref[f"{part}_labels"])
            idx = np.random.default_rng(cfg.bootstrap_seed).integers(0, n, (cfg.bootstrap_samples, n))
            hits = {k: (s[f"{part}_guess"] == s[f"{part}_labels"]).astype(np.float64) for k, s in sets.items()}
            boots = {k: h[idx].mean(axis=1) for k, h in hits.items()}
            ref_key = (ra.ORIGINAL, None)
            out[part] = _collect(sets, {k: float(h.mean()) for k, h in hits.items()}, boots, ref_key,
                                 lambda s: {"bpp": float(np.mean(s[f"{part}_bpp"])), "bytes": float(np.mean(s[f"{part}_bytes"])),
                                            "psnr": _finite_mean(s[f"{part}_psnr"]), "ssim": float(np.mean(s[f"{part}_ssim"])),
                                            "n": int(len(s[f"{part}_labels"]))})
    else:
        bcfg = cfg.study_b
        patient = sbp.patch_plan(bcfg, data_root).patient
        weights = sbr.patient_weights(patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
        for model in METRICS["b"]:
            values, boots = {}, {}
            for k, s in sets.items():
                reps = [{"labels": s["labels"], "fold": s[f"fold_r{r}"], "x": s[f"{model}_r{r}"]}
                        for r in range(bcfg.patch_repeats)]
                values[k], boots[k] = sbr.pooled_auroc_boot(reps, "x", weights)
            out[model] = _collect(sets, values, boots, (ra.ORIGINAL, None),
                                  lambda s: {"bpp": float(np.mean(s["bpp"])), "bytes": float(np.mean(s["bytes"])),
                                             "psnr": _finite_mean(s["psnr_breast"]), "ssim": float(np.mean(s["patch_ssim"])),
                                             "n": int(np.sum(s["labels"] >= 0)), "films": int(len(s["bytes"]))})
    return out


def _collect(sets, values, boots, ref_key, stats) -> dict:
    ref_value, ref_boot = values[ref_key], boots[ref_key]
    out = {ra.ORIGINAL: _point(ref_key, sets[ref_key], ref_value, ref_boot, ref_value, ref_boot, **stats(sets[ref_key]))}
    for key, s in sets.items():
        if key == ref_key:
            continue
        out.setdefault(key[0], []).append(_point(key, s, values[key], boots[key], ref_value, ref_boot, **stats(s)))
    for codec in out:
        if codec != ra.ORIGINAL:
            out[codec].sort(key=lambda p: p["bpp"])
    return out


def points_table(curve: dict, metric: str) -> list[dict]:
    """Every point of one metric as table rows (no bootstrap replicates)."""
    rows = []
    for codec, points in curve.items():
        for p in ([points] if codec == ra.ORIGINAL else points):
            rows.append({"metric": metric, "codec": codecs.CODECS[codec].label if codec in codecs.CODECS else codec,
                         "setting": p["setting"], **{k: v for k, v in p.items() if k not in ("boot", "codec", "setting")}})
    return rows


# ------------------------------------------------------------------------------------------------
# the margin rule
# ------------------------------------------------------------------------------------------------
def lowest_within_margin(points: list[dict], margin: float) -> dict:
    """The lowest bpp down to which the codec stays within ``margin`` of originals: walking from its
    highest bpp down, every point's paired 95 % interval of the difference from originals must reach
    above ``-margin`` (a loss larger than the margin is not shown). ``None`` where its highest point
    already fails; ``floor_reached`` says whether the walk stopped at the codec's lowest point."""
    ordered = sorted(points, key=lambda p: -p["bpp"])
    last = None
    for p in ordered:
        if p["delta_low"] < -margin:
            break
        last = p
    return {"bpp": None if last is None else last["bpp"], "bytes": None if last is None else last["bytes"],
            "setting": None if last is None else last["setting"],
            "floor_reached": last is not None and last is ordered[-1]}


MARGIN_RULE = ("walking from a codec's highest bpp down, the lower end of the paired 95 % interval of "
               "(value after the codec) minus (value on originals) stays above minus the margin")


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


def ranking(cfg: CodecConfig, curve: dict, metric: str, margin: float) -> dict:
    """Per codec: its mean value over the common bpp range, its BD difference from the reference codec
    (both with intervals), and its lowest bpp within the margin; ranked by the BD difference."""
    names = [c for c in curve if c != ra.ORIGINAL]
    span = common_range(curve, names)
    reference = cfg.reference if cfg.reference in names else (names[0] if names else None)
    rows = []
    for codec in names:
        low_bpp = lowest_within_margin(curve[codec], margin)
        row = {"metric": metric, "codec": codecs.CODECS[codec].label, "name": codec,
               "lowest_bpp_within_margin": low_bpp["bpp"], "bytes_there": low_bpp["bytes"],
               "setting_there": low_bpp["setting"], "floor_reached": low_bpp["floor_reached"],
               "bpp_min": min(p["bpp"] for p in curve[codec]), "bpp_max": max(p["bpp"] for p in curve[codec])}
        if span is not None:
            x, v, b = _log_positions(curve[codec])
            w = interp_weights(x, np.log10(span[0]), np.log10(span[1]))
            mean_low, mean_high = _ci(w @ b)
            d, d_boot = bd_accuracy(curve[codec], curve[reference], *span)
            d_low, d_high = _ci(d_boot) if codec != reference else (0.0, 0.0)
            pts = sorted(curve[codec], key=lambda p: p["bpp"])
            _, first = np.unique(np.log10([p["bpp"] for p in pts]), return_index=True)
            psnr = np.array([pts[i]["psnr"] for i in first])
            ssim = np.array([pts[i]["ssim"] for i in first])
            row.update({"mean_over_range": float(w @ v), "mean_low": mean_low, "mean_high": mean_high,
                        "bd_vs_reference": d, "bd_low": d_low, "bd_high": d_high,
                        "psnr_over_range": float(w @ psnr), "ssim_over_range": float(w @ ssim)})
        rows.append(row)
    if span is not None:
        rows.sort(key=lambda r: -r["bd_vs_reference"])
        for i, r in enumerate(rows):
            r["rank"] = i + 1
            r["verdict"] = ("reference" if r["name"] == reference else
                            "better" if r["bd_low"] > 0 else "worse" if r["bd_high"] < 0 else "not distinguishable")
    return {"rows": rows, "range": span, "reference": reference, "margin": margin}


def study_labels(study: str) -> tuple[str, ...]:
    return METRICS[study]


def original_value(curve: dict) -> dict:
    p = curve[ra.ORIGINAL]
    return {"value": p["value"], "low": p["low"], "high": p["high"], "n": p["n"]}


def study_b_check(cfg: CodecConfig, curve: dict, data_root=None) -> dict:
    """The Study B chapter's pooled CNN AUROC on originals (its own stage), beside the one recomputed
    here from the same fold models: equal, unless the models read here are not that chapter's."""
    bcfg = cfg.study_b
    sets = sbr.score_sets(bcfg, "cnn", sbp.ORIGINAL, "malignant", data_root)
    weights = sbr.patient_weights(sbp.patch_plan(bcfg, data_root).patient, 10, cfg.bootstrap_seed)
    chapter, _ = sbr.pooled_auroc_boot(sets, sbp.ORIGINAL, weights)
    here = curve["cnn"][ra.ORIGINAL]["value"]
    return {"chapter": chapter, "here": here, "equal": bool(abs(chapter - here) < 1e-6)}


def summary(rank: dict) -> dict:
    """The ranking in words and the codecs a perceptual metric would pick, for the prose."""
    rows = [r for r in rank["rows"] if "bd_vs_reference" in r]
    if not rows:
        return {"best": "none", "text": "the codecs share no bits-per-pixel range, so no average difference is defined",
                "best_psnr": "none", "best_ssim": "none", "agrees_psnr": "cannot be compared",
                "range": "none"}
    best = rows[0]
    ref = codecs.CODECS[rank["reference"]].label
    if best["name"] == rank["reference"]:
        text = f"the reference, {ref}, ranks first"
    else:
        text = (f"{best['codec']} ranks first, {best['bd_vs_reference']:+.3f} against {ref} (95 % interval "
                f"{best['bd_low']:+.3f} to {best['bd_high']:+.3f}: {best['verdict']})")
    by_psnr = max(rows, key=lambda r: r["psnr_over_range"])
    by_ssim = max(rows, key=lambda r: r["ssim_over_range"])
    return {"best": best["codec"], "text": text, "best_psnr": by_psnr["codec"], "best_ssim": by_ssim["codec"],
            "agrees_psnr": "agrees" if by_psnr["name"] == best["name"] else "disagrees",
            "range": f"{rank['range'][0]:.3g} to {rank['range'][1]:.3g} bpp",
            "better": ", ".join(r["codec"] for r in rows if r["verdict"] == "better") or "none",
            "worse": ", ".join(r["codec"] for r in rows if r["verdict"] == "worse") or "none"}


def ranking_table(rankings: dict) -> list[dict]:
    """All rankings as one table (one row per metric and codec)."""
    keep = ("metric", "rank", "codec", "bd_vs_reference", "bd_low", "bd_high", "mean_over_range", "mean_low", "mean_high",
            "lowest_bpp_within_margin", "bytes_there", "setting_there", "floor_reached", "psnr_over_range",
            "ssim_over_range", "verdict")
    return [{k: r.get(k) for k in keep} | {"metric": METRIC_LABELS[r["metric"]]} for rank in rankings.values()
            for r in rank["rows"]]


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
