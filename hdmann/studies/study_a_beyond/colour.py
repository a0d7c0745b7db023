"""Study A beyond the paper: the colour baseline stage (``colour_baseline``): what a model that sees
only colour scores on the same images."""
from __future__ import annotations

import numpy as np

from hdmann.engine.stages import stage
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.images import EVAL_PARTS, _fields, _set_reads, eval_sets


def thumbnails(images: np.ndarray, size: int) -> np.ndarray:
    """Mean colour over a size x size grid of blocks, scaled to [0, 1]: what a colour-only model sees."""
    n, h, w, c = images.shape
    if h % size or w % size:
        raise ValueError(f"images of {h}x{w} do not split into a {size}x{size} grid of blocks")
    blocks = images.reshape(n, size, h // size, size, w // size, c).astype(np.float32)
    return blocks.mean(axis=(2, 4)).reshape(n, -1) / 255.0


@stage("study_a_beyond/colour_baseline",
       params=lambda bcfg, data_root: {"beyond": _fields(bcfg, ("thumbnail_size", "colour_c"))},
       reads=lambda bcfg: _set_reads(bcfg))
def colour_baseline(bcfg: StudyABeyondConfig, data_root=None) -> dict:
    """Logistic regression on tiny colour thumbnails, trained on the same (augmented)
    training part as HD-MANN, tested on the validation part and the test folder at every level."""
    from sklearn.linear_model import LogisticRegression

    split, sets = study_a.split_data(bcfg.study_a, data_root), eval_sets(bcfg, data_root)
    clf = LogisticRegression(C=bcfg.colour_c, max_iter=2000)
    clf.fit(thumbnails(split["x_train"], bcfg.thumbnail_size), split["y_train"])
    out = {}
    for part in EVAL_PARTS:
        out[f"{part}_labels"] = sets[f"{part}_labels"]
        for lv in study_a.levels(bcfg.study_a):
            out[f"{part}_{lv}"] = clf.predict(thumbnails(sets[f"{part}_{lv}"], bcfg.thumbnail_size))
    return out
