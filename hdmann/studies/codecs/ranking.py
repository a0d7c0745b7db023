"""The codec chapter's ranking: the lowest bpp each codec keeps within the margin (and whether the sample
resolves the margin), BD-accuracy against the reference codec with its interval, and the outcome of each
comparison, pooled over seeds and seed by seed."""
from __future__ import annotations

import numpy as np

from hdmann.engine import codecs
from hdmann.methods import bootstrap, evaluation
from hdmann.studies.codecs import pipeline as ra
from hdmann.studies.codecs.config import CodecConfig
from hdmann.studies.codecs.curves import margin_of, seed_agreement, seed_curve

# newer than JPEG: the codecs the chapter's question is about (JPEG 4:4:4 is JPEG with other chroma)
NEWER = ("jpeg2000", "webp", "avif", "jxl")
BETTER, WORSE, WITHIN, UNDECIDED, REFERENCE = "better", "worse", "within the margin", "undecided", "reference"


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
    shares = {cfg.study_a.seed_agreement, cfg.study_b.patches.seed_agreement}
    share = (f"{shares.pop() * 100:.0f} %" if len(shares) == 1 else
             f"{cfg.study_a.seed_agreement * 100:.0f} % (Study A) or {cfg.study_b.patches.seed_agreement * 100:.0f} % (Study B)")
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
            mean_low, mean_high = bootstrap.interval(w @ b)
            d, d_boot = bd_accuracy(curve[codec], curve[reference], *span)
            seed_bd = [bd_accuracy(seed_curve(curve[codec], s), seed_curve(curve[reference], s), *span)
                       for s in range(n_seeds)]
            if codec == reference:
                d_low = d_high = 0.0
                pooled = verdict = REFERENCE
                per_seed, seed_ci, agree = [], [], None
            else:
                d_low, d_high = bootstrap.interval(d_boot)
                seed_ci = [bootstrap.interval(sb) for _, sb in seed_bd]
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
