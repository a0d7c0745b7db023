"""Metrics with their uncertainty: bootstrap intervals, per-class recall, AUROC and AUPRC."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score


def bootstrap_ci(metric, *arrays, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                 stratify: np.ndarray | None = None) -> tuple[float, float, float]:
    """The metric on the data and a percentile bootstrap interval, resampling rows together."""
    arrays = [np.asarray(a) for a in arrays]
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


def accuracy(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def accuracy_ci(y_true, y_pred, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    return bootstrap_ci(accuracy, y_true, y_pred, n_boot=n_boot, seed=seed)


def per_class_recall(y_true, y_pred, n_classes: int) -> np.ndarray:
    cm = confusion(y_true, y_pred, n_classes)
    return cm.diagonal() / np.maximum(cm.sum(1), 1)


def confusion(y_true, y_pred, n_classes: int) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


def auroc(y_true, score) -> float:
    y_true = np.asarray(y_true)
    return float(roc_auc_score(y_true, score)) if 0 < y_true.sum() < len(y_true) else float("nan")


def auprc(y_true, score) -> float:
    y_true = np.asarray(y_true)
    return float(average_precision_score(y_true, score)) if y_true.sum() > 0 else float("nan")


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation over folds (NaN folds ignored)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0

