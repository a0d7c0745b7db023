"""Metrics with their uncertainty: bootstrap intervals, per-class recall, AUROC and AUPRC.

Inputs are checked where they enter: labels and predictions of one length, binary labels for
AUROC/AUPRC, finite scores. A metric that is undefined on a fold (one class only) is NaN, and a
summary over folds says which folds are NaN instead of averaging over the others.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, confusion_matrix

from hdmann.methods.bootstrap import interval


def bootstrap_ci(metric, *arrays, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                 stratify: np.ndarray | None = None) -> tuple[float, float, float]:
    """The metric on the data and a percentile bootstrap interval, resampling rows together."""
    arrays = [np.asarray(a) for a in arrays]
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"bootstrap_ci: the arrays have different lengths {[len(a) for a in arrays]}; "
                         "they are resampled row by row together")
    if stratify is not None and len(stratify) != len(arrays[0]):
        raise ValueError(f"bootstrap_ci: stratify has {len(stratify)} rows for {len(arrays[0])}")
    n = len(arrays[0])
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(stratify == g) for g in np.unique(stratify)] if stratify is not None else None
    values = []
    for _ in range(n_boot):
        if groups is None:
            idx = rng.integers(0, n, n)
        else:  # keep class sizes, so every resample still holds both classes
            idx = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups])
        values.append(metric(*[a[idx] for a in arrays]))
    low, high = interval(values, level)
    return float(metric(*arrays)), low, high


class FoldWarning(UserWarning):
    """Some folds have no value for a metric; the summary over folds is NaN and names them."""


def _same_length(y_true, y_pred, what: str) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise ValueError(f"{what}: expected two 1-D arrays of one length, got {y_true.shape} and {y_pred.shape}")
    return y_true, y_pred


def _classes(y: np.ndarray, n_classes: int, what: str) -> None:
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{what}: class labels must be integers in 0..{n_classes - 1}, got values "
                         f"{np.unique(y)[:6].tolist()}")


def _binary(y_true, score, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels in {0, 1} and finite scores of the same length, or a ValueError that says which fails."""
    y_true, score = _same_length(y_true, score, what)
    if y_true.size == 0:
        raise ValueError(f"{what}: no samples")
    found = np.unique(y_true)
    if not set(found.tolist()) <= {0, 1}:
        raise ValueError(f"{what}: labels must be 0 or 1 (positive = 1), got values {found[:6].tolist()}; "
                         "map the positive class to 1 and every other class to 0")
    score = np.asarray(score, dtype=np.float64)
    bad = int(np.count_nonzero(~np.isfinite(score)))
    if bad:
        raise ValueError(f"{what}: {bad} of {len(score)} scores are NaN or infinite; a model that "
                         "produced them diverged or was fed bad input")
    return y_true.astype(np.int64), score


def accuracy(y_true, y_pred) -> float:
    y_true, y_pred = _same_length(y_true, y_pred, "accuracy")
    return float(np.mean(y_true == y_pred))


def accuracy_ci(y_true, y_pred, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    return bootstrap_ci(accuracy, y_true, y_pred, n_boot=n_boot, seed=seed)


def per_class_recall(y_true, y_pred, n_classes: int) -> np.ndarray:
    cm = confusion(y_true, y_pred, n_classes)
    return cm.diagonal() / np.maximum(cm.sum(1), 1)


def confusion(y_true, y_pred, n_classes: int) -> np.ndarray:
    y_true, y_pred = _same_length(y_true, y_pred, "confusion")
    _classes(y_true, n_classes, "confusion (true labels)")
    _classes(y_pred, n_classes, "confusion (predictions)")
    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


def auroc(y_true, score) -> float:
    """Area under the ROC curve; NaN where it is undefined (one class only).

    Computed from ranks (Mann-Whitney U, ties counting half), which equals scikit-learn's
    ``roc_auc_score`` to rounding (tested) at a tenth of its cost: bootstrap intervals call it
    thousands of times."""
    y_true, score = _binary(y_true, score, "auroc")
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if not (n_pos and n_neg):
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y_true, score) -> float:
    """Average precision (area under the precision-recall curve); NaN without positives."""
    y_true, score = _binary(y_true, score, "auprc")
    return float(average_precision_score(y_true, score)) if y_true.sum() > 0 else float("nan")


def fold_summary(values) -> dict:
    """Mean and sample SD over folds, with the folds that have no value named, never dropped."""
    v = np.asarray(values, dtype=float)
    nan_folds = np.flatnonzero(~np.isfinite(v)).tolist()
    if len(v) == 0 or nan_folds:
        mean = sd = float("nan")
    else:
        mean = float(v.mean())
        sd = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    return {"mean": mean, "sd": sd, "n_folds": int(len(v)), "nan_folds": nan_folds}


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation over folds.

    A NaN fold (e.g. AUROC of a fold with one class) makes both NaN and is reported with a
    :class:`FoldWarning` naming it: averaging the other folds would hide it. One fold has no SD (NaN)."""
    summary = fold_summary(values)
    if summary["nan_folds"]:
        warnings.warn(FoldWarning(
            f"fold(s) {summary['nan_folds']} of {summary['n_folds']} have no value (NaN, e.g. a fold "
            "with one class only); the mean and SD over folds are reported as NaN, not averaged over "
            "the other folds"), stacklevel=2)
    return summary["mean"], summary["sd"]


# ------------------------------------------------------------------------------------------------
# verdicts that survive seeds: intervals over seeds and images, three-way decisions, agreement
# ------------------------------------------------------------------------------------------------
HOLDS, FAILS, UNDECIDED = "holds", "does not hold", "undecided"
OUTCOMES = (HOLDS, FAILS, UNDECIDED)


def seed_image_ci(values, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                  resample_seeds: bool = True) -> tuple[float, float, float]:
    """Mean of a (seeds x images) matrix of per-image values (a hit, a paired hit difference) with a
    percentile interval that resamples images and, with ``resample_seeds``, the seeds too.

    A training seed is a draw of the model just as an image is a draw of the data, so an interval
    meant to survive a rerun on another machine resamples both: each replicate draws the seeds and
    the images with replacement and averages the drawn block. The images are drawn once per
    replicate for every seed (they are the same images), which keeps the pairing across seeds.
    With one seed, or ``resample_seeds=False``, it is the ordinary image bootstrap of that seed's mean."""
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if v.ndim != 2:
        raise ValueError(f"seed_image_ci: expected a (seeds x images) matrix, got shape {v.shape}")
    n_seeds, n = v.shape
    if n == 0 or n_seeds == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    images = rng.integers(0, n, (n_boot, n))
    seeds = (rng.integers(0, n_seeds, (n_boot, n_seeds)) if resample_seeds and n_seeds > 1
             else np.broadcast_to(np.arange(n_seeds), (n_boot, n_seeds)))
    # mean over the drawn seeds of each drawn seed's mean over the drawn images
    per_seed = v[:, images].mean(axis=2).T  # (n_boot, n_seeds)
    reps = np.take_along_axis(per_seed, seeds, axis=1).mean(axis=1)
    if not np.isfinite(reps).any():  # an undefined measure (e.g. a silhouette of one image per class)
        return float("nan"), float("nan"), float("nan")
    low, high = interval(reps, level)
    return float(v.mean()), low, high


def seed_intervals(values, n_boot: int = 1000, seed: int = 0) -> tuple[list[tuple], tuple]:
    """:func:`seed_image_ci` of each seed's row alone (the images resampled) and of all seeds pooled
    (seeds and images resampled): what a verdict is decided on, seed by seed and pooled."""
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    return ([seed_image_ci(row[None], n_boot, seed) for row in v], seed_image_ci(v, n_boot, seed))


def non_inferiority(low: float, high: float, margin: float) -> str:
    """"No loss beyond ``margin``" from an interval of a change (new minus reference): holds when the
    whole interval lies above ``-margin``, does not hold when it lies wholly below ``-margin`` (a loss
    larger than the margin shown), undecided when it straddles ``-margin``."""
    if not margin >= 0:
        raise ValueError(f"margin={margin!r}: a non-inferiority margin is a loss tolerated, >= 0")
    if low > -margin:
        return HOLDS
    if high < -margin:
        return FAILS
    return UNDECIDED


def all_of(outcomes) -> str:
    """Several conditions that must each hold: holds if all do, does not hold if any does not,
    undecided otherwise."""
    outcomes = list(outcomes)
    if any(o not in OUTCOMES for o in outcomes):
        raise ValueError(f"outcomes must be among {OUTCOMES}, got {outcomes}")
    if outcomes and all(o == HOLDS for o in outcomes):
        return HOLDS
    if any(o == FAILS for o in outcomes):
        return FAILS
    return UNDECIDED


def seeds_needed(n_seeds: int, share: float) -> int:
    """How many of ``n_seeds`` must agree for a verdict: ``share`` of them, rounded up, at least one."""
    if n_seeds < 1:
        raise ValueError(f"n_seeds={n_seeds}: a verdict needs at least one trained seed")
    return max(1, int(np.ceil(share * n_seeds - 1e-9)))


def seed_verdict(per_seed, pooled: str, share: float) -> dict:
    """The verdict across seeds: the seed-pooled test's outcome when at least ``share`` of the seeds
    (rounded up) reach the same outcome on their own, undecided otherwise; with the counts per outcome
    ("holds in k of n seeds")."""
    per_seed = list(per_seed)
    for o in [*per_seed, pooled]:
        if o not in OUTCOMES:
            raise ValueError(f"outcome {o!r} is not one of {OUTCOMES}")
    need = seeds_needed(len(per_seed), share)
    agree = sum(o == pooled for o in per_seed)
    verdict = pooled if pooled != UNDECIDED and agree >= need else UNDECIDED
    counts = {o: sum(x == o for x in per_seed) for o in OUTCOMES}
    return {"verdict": verdict, "pooled": pooled, "seeds": len(per_seed), "needed": need,
            "holds_in": counts[HOLDS], "fails_in": counts[FAILS], "undecided_in": counts[UNDECIDED],
            "seed_outcomes": per_seed}


def seed_wording(v: dict) -> str:
    """"holds in 2 of 3 seeds (does not hold in 1)" for a :func:`seed_verdict` result."""
    text = f"holds in {v['holds_in']} of {v['seeds']} seed{'s' if v['seeds'] != 1 else ''}"
    rest = [f"{label} in {v[key]}" for label, key in (("does not hold", "fails_in"), ("undecided", "undecided_in"))
            if v[key]]
    return text + (f" ({'; '.join(rest)})" if rest else "")
