"""The explicit memory of HD-MANN: one random binary key per class, nearest-key inference.

Random vectors in high dimension are nearly orthogonal (Kanerva 2009), so keys drawn from
U{0,1}^D are far apart and a new class can be added by drawing one more key, without
touching the network or the existing keys.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DISTANCES = ("hamming", "cosine", "l2")
BUNDLES = ("mean", "majority")


@dataclass
class KeyMemory:
    """Class keys in insertion order; key ``i`` belongs to ``labels[i]``."""

    dim: int
    seed: int
    keys: np.ndarray = field(init=False)
    labels: list[str] = field(default_factory=list, init=False)
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.dim < 1:
            raise ValueError(f"dim={self.dim}: a key needs at least one bit")
        self._rng = np.random.default_rng(self.seed)
        self.keys = np.zeros((0, self.dim), dtype=np.float32)

    @classmethod
    def for_classes(cls, labels, dim: int, seed: int) -> "KeyMemory":
        memory = cls(dim, seed)
        for label in labels:
            memory.add_class(label)
        return memory

    @classmethod
    def from_keys(cls, keys: np.ndarray, labels=None, seed: int = 0) -> "KeyMemory":
        """A memory holding keys already written (a trained model's ``keys.npy``), labelled ``labels``
        or "0", "1", ... in key order; ``seed`` draws any key added later by :meth:`add_class`."""
        keys = np.array(keys, dtype=np.float32)  # a copy: adding a class never writes into the caller's array
        if keys.ndim != 2 or keys.shape[1] < 1:
            raise ValueError(f"keys must be (K, D >= 1), got {keys.shape}")
        labels = [str(i) for i in range(len(keys))] if labels is None else [str(x) for x in labels]
        if len(labels) != len(keys) or len(set(labels)) != len(labels):
            raise ValueError(f"labels must name each of the {len(keys)} keys once, got {labels}")
        memory = cls(keys.shape[1], seed)
        memory.keys, memory.labels = keys, labels
        return memory

    def add_class(self, label: str) -> np.ndarray:
        """Draw a key from U{0,1}^D for a new class; existing keys stay as they are."""
        if label in self.labels:
            raise ValueError(f"class {label!r} already has a key")
        key = self._rng.integers(0, 2, size=self.dim).astype(np.float32)
        self.keys = np.vstack([self.keys, key[None]])
        self.labels.append(label)
        return key

    def add_class_from_outputs(self, label: str, outputs: np.ndarray, bundle: str = "mean") -> np.ndarray:
        """Write a new class's key from the network outputs of a few of its images: the class is
        added without retraining and without touching the existing keys (k-shot addition).

        ``bundle="mean"`` writes their mean output (the centroid: under L2 it is the point nearest,
        on average, to the outputs it was made from); ``"majority"`` writes the per-bit majority of
        the thresholded outputs (a binary key like the drawn ones, the bundling of HD computing).
        """
        if label in self.labels:
            raise ValueError(f"class {label!r} already has a key")
        if bundle not in BUNDLES:
            raise ValueError(f"bundle={bundle!r}: use one of {BUNDLES}")
        outputs = np.asarray(outputs, dtype=np.float32)
        if outputs.ndim != 2 or outputs.shape[1] != self.dim or len(outputs) == 0:
            raise ValueError(f"outputs must be (k >= 1, {self.dim}), got {outputs.shape}")
        key = outputs.mean(axis=0)
        if bundle == "majority":  # ties (an even k split evenly) go to 1
            key = ((outputs >= 0.5).mean(axis=0) >= 0.5).astype(np.float32)
        self.keys = np.vstack([self.keys, key[None]])
        self.labels.append(label)
        return key

    def targets(self, class_index: np.ndarray) -> np.ndarray:
        """The regression target of each sample: its class key."""
        return self.keys[np.asarray(class_index)]

    def distances(self, outputs: np.ndarray, metric: str = "hamming") -> np.ndarray:
        """(N, K) distance from each network output to each key."""
        if metric not in DISTANCES:
            raise ValueError(f"metric={metric!r}: use one of {DISTANCES}")
        outputs = np.asarray(outputs, dtype=np.float32)
        if outputs.ndim != 2 or outputs.shape[1] != self.dim:
            raise ValueError(f"outputs must be (N, {self.dim}), got {outputs.shape}")
        if metric == "hamming":  # threshold the output at 0.5, count differing bits
            bits = (outputs >= 0.5).astype(np.float32)
            return bits @ (1 - self.keys.T) + (1 - bits) @ self.keys.T
        if metric == "l2":
            sq = (outputs**2).sum(1)[:, None] - 2 * outputs @ self.keys.T + (self.keys**2).sum(1)[None]
            return np.sqrt(np.maximum(sq, 0))
        norm = np.linalg.norm(outputs, axis=1, keepdims=True) * np.linalg.norm(self.keys, axis=1)[None]
        return 1 - (outputs @ self.keys.T) / np.maximum(norm, 1e-12)

    def predict(self, outputs: np.ndarray, metric: str = "hamming") -> np.ndarray:
        """Index of the nearest key (ties go to the earliest key)."""
        return np.argmin(self.distances(outputs, metric), axis=1)
