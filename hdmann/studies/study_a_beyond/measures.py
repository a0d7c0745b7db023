"""Study A beyond the paper: the measures every table of the chapter uses (nearest-key hits, intervals
over images and over seeds, a Wilson interval)."""
from __future__ import annotations

import numpy as np

from hdmann.methods import evaluation
from hdmann.methods.memory import KeyMemory

PART = "val"  # every table is on the validation part (originals of isic4's train folder never trained on)


def _memory(keys: np.ndarray) -> KeyMemory:
    return KeyMemory.from_keys(keys)


def _quality(level: str) -> int:
    return 100 if level == "original" else int(level[1:])


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (used where a bootstrap over draws would mix sources)."""
    if n == 0:
        return float("nan"), float("nan")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def _hits(bcfg, outputs: dict, level: str, part: str = PART) -> np.ndarray:
    return _memory(outputs["keys"]).predict(outputs[f"{part}_{level}"], bcfg.study_a.distance) == outputs[f"{part}_labels"]


def _ci_mean(bcfg, values) -> tuple[float, float, float]:
    return evaluation.bootstrap_ci(lambda v: float(np.nanmean(v)), np.asarray(values, float),
                                   n_boot=bcfg.bootstrap_samples, seed=bcfg.bootstrap_seed)
