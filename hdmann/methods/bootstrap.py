"""Bootstrap intervals of an AUROC, many replicates at once: resamples as count weights, the
patients (groups) or the classes drawn apart, and the training seeds resampled beside the images.

Apart from :mod:`hdmann.methods.evaluation` on purpose: reports read these, stages do not, so
refining an interval here re-keys no cached model.
"""
from __future__ import annotations

import numpy as np
def weighted_auroc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC under row weights, for many weight vectors at once: (B, N) weights -> (B,) AUROCs.

    With integer weights (bootstrap counts) this equals the AUROC of the resample; ties count half."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(score, kind="stable")
    s, y, w = score[order], y[order], np.atleast_2d(weights)[:, order]
    _, group = np.unique(s, return_inverse=True)
    n_groups = group.max() + 1 if len(group) else 0
    neg = np.zeros((w.shape[0], n_groups))
    pos = np.zeros((w.shape[0], n_groups))
    np.add.at(neg.T, group[~y], w[:, ~y].T)
    np.add.at(pos.T, group[y], w[:, y].T)
    below = np.cumsum(neg, axis=1) - neg  # negative weight strictly below each group
    num = np.sum(pos * (below + 0.5 * neg), axis=1)
    den = pos.sum(1) * neg.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def group_weights(groups: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, N) counts: how often each row appears when groups (patients) are drawn with replacement."""
    ids, inverse = np.unique(groups, return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(ids), (n_boot, len(ids)))
    counts = np.zeros((n_boot, len(ids)))
    np.add.at(counts, (np.repeat(np.arange(n_boot), len(ids)), draws.ravel()), 1)
    return counts[:, inverse]


def stratified_weights(y: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, N) counts of a bootstrap that draws each class's rows apart, so every replicate keeps
    the class sizes (an AUROC is defined on every one)."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_boot, len(y)))
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        draws = rows[rng.integers(0, len(rows), (n_boot, len(rows)))]
        np.add.at(counts, (np.repeat(np.arange(n_boot), len(rows)), draws.ravel()), 1)
    return counts


def seed_image_auroc(y, scores, n_boot: int = 1000, seed: int = 0, reference=None) -> dict:
    """AUROC of a model trained over several seeds: the mean over seeds of each seed's AUROC, with a
    95 % interval that resamples the images (stratified by class, the same draws for every seed) and
    the seeds; with ``reference`` (another model's (seeds x N) scores on the same images), also the
    paired difference, on the same image draws, each side's seeds drawn on its own.

    ``scores``: (seeds x N), higher = more likely class 1."""
    y = np.asarray(y).astype(int)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    weights = stratified_weights(y, n_boot, seed)
    rng = np.random.default_rng(seed + 1)

    def replicate(s: np.ndarray) -> tuple[float, np.ndarray]:
        point = np.array([weighted_auroc(y, row, np.ones((1, len(y))))[0] for row in s])
        boot = np.stack([weighted_auroc(y, row, weights) for row in s], axis=1)  # (n_boot, seeds)
        pick = rng.integers(0, len(s), (n_boot, len(s))) if len(s) > 1 else np.zeros((n_boot, 1), int)
        return float(point.mean()), np.take_along_axis(boot, pick, axis=1).mean(axis=1)

    value, boot = replicate(scores)
    low, high = interval(boot)
    out = {"auroc": value, "low": low, "high": high, "seeds": len(scores),
           "per_seed": [float(weighted_auroc(y, row, np.ones((1, len(y))))[0]) for row in scores]}
    if reference is not None:
        ref_value, ref_boot = replicate(np.atleast_2d(np.asarray(reference, dtype=np.float64)))
        d_low, d_high = paired_interval(boot, ref_boot)
        out.update({"reference": ref_value, "difference": value - ref_value,
                    "difference_low": d_low, "difference_high": d_high})
    return out



def seed_image_replicates(values, n_boot: int = 1000, seed: int = 0) -> dict:
    """The replicates behind :func:`hdmann.methods.evaluation.seed_image_ci`, drawn exactly as it draws
    them, so that two matrices of one shape bootstrapped with one ``seed`` are paired (the same images
    and the same seeds in every replicate) and a difference of their replicates is a paired interval.

    ``values``: (seeds x images) per-image values (a hit). Returns ``value`` (the mean over seeds and
    images), ``boot`` ((n_boot,): seeds and images resampled; its 2.5 and 97.5 percentiles are
    ``seed_image_ci``'s interval), ``seed_values`` (each seed's mean) and ``seed_boot`` ((n_boot, seeds):
    each seed's mean on the same image draws, the seeds not resampled: each seed's own interval)."""
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if v.ndim != 2 or 0 in v.shape:
        raise ValueError(f"seed_image_replicates: expected a non-empty (seeds x images) matrix, got shape {v.shape}")
    n_seeds, n = v.shape
    rng = np.random.default_rng(seed)
    images = rng.integers(0, n, (n_boot, n))
    seeds = (rng.integers(0, n_seeds, (n_boot, n_seeds)) if n_seeds > 1
             else np.broadcast_to(np.arange(n_seeds), (n_boot, n_seeds)))
    per_seed = v[:, images].mean(axis=2).T  # (n_boot, n_seeds)
    return {"value": float(v.mean()), "boot": np.take_along_axis(per_seed, seeds, axis=1).mean(axis=1),
            "seed_values": v.mean(axis=1), "seed_boot": per_seed}


def resample_seeds(seed_boot, seed: int = 0) -> np.ndarray:
    """(n_boot, seeds) replicates, one column per training seed (each on the same resample of the
    images or patients), to (n_boot,) replicates of the seed mean that also resample the seeds: each
    replicate draws the seeds with replacement and averages the drawn columns. With one seed, that
    seed's column. The same ``seed`` draws the same seeds for every matrix of one shape (paired)."""
    b = np.atleast_2d(np.asarray(seed_boot, dtype=np.float64))
    n_boot, n_seeds = b.shape
    if n_seeds == 1:
        return b[:, 0].copy()
    pick = np.random.default_rng(seed).integers(0, n_seeds, (n_boot, n_seeds))
    return np.take_along_axis(b, pick, axis=1).mean(axis=1)


def interval(replicates, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (NaN replicates, e.g. a resample holding one
    class, are left out): ``(low, high)``."""
    low, high = np.nanpercentile(np.asarray(replicates, dtype=np.float64), [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def paired_interval(replicates, reference_replicates, level: float = 0.95) -> tuple[float, float]:
    """The interval of a difference, each replicate minus the reference's on the same resample (same
    patients, same images): the shared draws cancel, so it is narrower than two intervals compared."""
    a, b = np.asarray(replicates, dtype=np.float64), np.asarray(reference_replicates, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired_interval: replicates of shape {a.shape} and {b.shape}; pair replicates drawn on "
                         "the same resamples (one weight matrix)")
    return interval(a - b, level)


def mean_auroc(runs, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """The AUROC averaged over runs (training seeds scoring the same rows), and its value on each
    resample: ``runs`` is a list of ``(rows, y, score)`` (``rows`` index the columns of ``weights``
    that the run scored), ``weights`` a (B, N) count matrix such as :func:`group_weights`'. Returns
    ``(point, (B,) replicates)``; one weight matrix for several models makes their replicates paired."""
    point, boots = [], []
    for rows, y, score in runs:
        score = np.asarray(score, dtype=np.float64)
        point.append(weighted_auroc(y, score, np.ones((1, len(rows))))[0])
        boots.append(weighted_auroc(y, score, weights[:, rows]))
    return float(np.mean(point)), np.mean(boots, axis=0)
