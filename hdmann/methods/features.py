"""The non-deep baseline a skeptic asks for: a handful of texture and intensity features of a patch,
fed to a logistic regression (scikit-learn). It shows what the CNN adds over simple statistics."""
from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ("mean", "std", "skewness", "kurtosis", "p10", "p50", "p90", "centre_minus_ring",
            "centre_std", "gradient_mean", "laplacian_std", "diff_contrast", "entropy")


def patch_features(patches: np.ndarray) -> np.ndarray:
    """(N, S, S) uint8 patches -> (N, len(FEATURES)) float features.

    ``centre_minus_ring`` contrasts the central disc (a third of the side) with the rest: a mass is
    a bright blob in the centre of a lesion patch, which a global mean cannot see."""
    x = np.asarray(patches, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"expected (N, S, S) patches, got shape {x.shape}")
    n, s, _ = x.shape
    flat = x.reshape(n, -1)
    yy, xx = np.mgrid[:s, :s] - (s - 1) / 2
    centre = (np.hypot(yy, xx) <= s / 6).ravel()
    gy, gx = np.gradient(x, axis=(1, 2))
    lap = x[:, 2:, 1:-1] + x[:, :-2, 1:-1] + x[:, 1:-1, 2:] + x[:, 1:-1, :-2] - 4 * x[:, 1:-1, 1:-1]
    hist = np.stack([np.bincount(p.ravel(), minlength=256) for p in np.asarray(patches, np.uint8).reshape(n, -1)])
    prob = hist / hist.sum(1, keepdims=True)
    entropy = -np.sum(np.where(prob > 0, prob * np.log2(np.where(prob > 0, prob, 1)), 0), axis=1)
    p10, p50, p90 = np.percentile(flat, [10, 50, 90], axis=1)
    with warnings.catch_warnings():  # flat patches (the codec floor) have no defined skew: 0, not a warning
        warnings.filterwarnings("ignore", message="Precision loss", category=RuntimeWarning)
        skew, kurt = np.nan_to_num(stats.skew(flat, axis=1)), np.nan_to_num(stats.kurtosis(flat, axis=1))
    return np.stack([
        flat.mean(1), flat.std(1), skew, kurt, p10, p50, p90,
        flat[:, centre].mean(1) - flat[:, ~centre].mean(1), flat[:, centre].std(1),
        np.hypot(gy, gx).reshape(n, -1).mean(1), lap.reshape(n, -1).std(1),
        np.abs(np.diff(x, axis=2)).reshape(n, -1).mean(1), entropy,
    ], axis=1).astype(np.float64)


def fit(train_x: np.ndarray, train_y: np.ndarray, c: float, seed: int):
    """Standardise, then fit a class-balanced L2 logistic regression; ``.predict_proba`` scores."""
    if len(np.unique(train_y)) < 2:
        raise ValueError("the feature baseline needs both classes in its training rows")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000,
                                                               random_state=seed))
    return model.fit(train_x, train_y)
