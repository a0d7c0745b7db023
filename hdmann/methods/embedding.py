"""t-SNE maps of hypervector outputs and the numbers that Fig 3 of study A only shows."""
from __future__ import annotations

import numpy as np
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits


def tsne_with_keys(outputs: np.ndarray, keys: np.ndarray, perplexity: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Embed outputs and class keys together (t-SNE has no out-of-sample map), one run per level
    as in the paper. Returns the 2-D points of the outputs and of the keys."""
    points = np.vstack([outputs, keys]).astype(np.float32)
    perplexity = min(perplexity, (len(points) - 1) / 3)
    # one OpenMP thread: on a busy machine sklearn's threads wait on each other at every
    # iteration (seconds per map instead of a fraction); the maps are small
    with threadpool_limits(1):
        emb = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                   random_state=seed, n_jobs=1).fit_transform(points)
    return emb[: len(outputs)], emb[len(outputs):]


def cluster_metrics(outputs: np.ndarray, labels: np.ndarray, keys: np.ndarray) -> dict[str, float]:
    """Silhouette of the raw outputs by class, and the mean Euclidean distance from each output to
    its own class key vs to the nearest other key (a margin below zero means it sits nearer a wrong key)."""
    labels = np.asarray(labels)
    d = np.linalg.norm(outputs[:, None, :] - keys[None, :, :], axis=2)
    own = d[np.arange(len(labels)), labels]
    other = np.where(np.eye(len(keys), dtype=bool)[labels], np.inf, d).min(axis=1)
    # undefined unless there are 2 .. n-1 classes (a set with one image per class has none)
    sil = silhouette_score(outputs, labels) if 1 < len(np.unique(labels)) < len(labels) else float("nan")
    return {"silhouette": float(sil), "own_key_distance": float(own.mean()),
            "other_key_distance": float(other.mean()), "key_margin": float((other - own).mean())}
