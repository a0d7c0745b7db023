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
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    out = {"auroc": value, "low": float(low), "high": float(high), "seeds": len(scores),
           "per_seed": [float(weighted_auroc(y, row, np.ones((1, len(y))))[0]) for row in scores]}
    if reference is not None:
        ref_value, ref_boot = replicate(np.atleast_2d(np.asarray(reference, dtype=np.float64)))
        d_low, d_high = np.nanpercentile(boot - ref_boot, [2.5, 97.5])
        out.update({"reference": ref_value, "difference": value - ref_value,
                    "difference_low": float(d_low), "difference_high": float(d_high)})
    return out

