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
    low, high = np.nanpercentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(metric(*arrays)), float(low), float(high)


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
