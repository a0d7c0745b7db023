"""Study B on patches, the held-out scores a report reads: which runs exist, each run's scores per
test level, and their pooled AUROC on patient resamples.

Scores of the held-out patches are pooled over the five folds of a repeat; the patients are
resampled with replacement (all patches of a drawn patient come along, as often as the patient is
drawn, :func:`hdmann.methods.bootstrap.group_weights`); the AUROC of each repeat is computed on the
resample and averaged over repeats. One weight matrix for both sides of a difference pairs it.
"""
from __future__ import annotations

import numpy as np

from hdmann.methods import bootstrap, evaluation
from hdmann.studies.study_b import pipeline as sbp
from hdmann.studies.study_b.config import StudyBConfig

MODELS = ("cnn", "resnet18", "features", "shortcut")
ENSEMBLE = "cnn_ensemble"  # the CNN's held-out scores averaged over its repeats
repeats = sbp.repeats  # which runs exist is the pipeline's choice (its graph lists them)
patient_weights = bootstrap.group_weights  # (n_boot, N) counts of a patient bootstrap


def patch_weights(cfg: StudyBConfig, data_root=None) -> np.ndarray:
    """The chapter's patient bootstrap over its patches: every interval and paired difference of the
    chapter draws these same resamples, so two of its intervals on one level are paired."""
    return bootstrap.group_weights(sbp.patch_plan(cfg, data_root).patient, cfg.bootstrap_samples, cfg.bootstrap_seed)


def models(cfg: StudyBConfig) -> tuple[str, ...]:
    """The rows of the chapter's tables: :data:`MODELS`, and the CNN's seed ensemble where the CNN
    has more than one repeat on originals (with one it would repeat the CNN's row)."""
    return MODELS + ((ENSEMBLE,) if repeats(cfg, "cnn", sbp.ORIGINAL) > 1 else ())


def train_levels(cfg: StudyBConfig, model: str) -> list[str]:
    """Levels with a training run of ``model`` (:func:`hdmann.studies.study_b.pipeline.train_levels`); the
    seed ensemble's are the CNN's levels with more than one repeat."""
    if model == ENSEMBLE:
        return [lv for lv in sbp.train_levels(cfg, "cnn") if repeats(cfg, "cnn", lv) > 1]
    return sbp.train_levels(cfg, model)


def score_sets(cfg: StudyBConfig, model: str, train_level: str, task: str = "malignant",
               data_root=None, repeat: int | None = None) -> list[dict]:
    """Held-out scores of every repeat of ``model`` trained at ``train_level`` (a dict per repeat),
    or of repeat ``repeat`` alone (a training seed: its verdict is decided on its own).

    :data:`ENSEMBLE` is one set: at every level, each patch's score averaged over the CNN's repeats.
    Every repeat scored the patch with a fold model that never saw it, so the mean is held out too
    (folds differ between repeats; the set keeps the first repeat's, for per-fold statistics)."""
    if model == ENSEMBLE:
        members = score_sets(cfg, "cnn", train_level, task, data_root)
        return [{**members[0], **{lv: np.mean([m[lv] for m in members], axis=0) for lv in sbp.levels(cfg)},
                 "members": len(members)}]
    ratio = sbp.ratio_of(train_level)
    out = []
    chosen = range(repeats(cfg, model, train_level)) if repeat is None else [repeat]
    for r in chosen:
        if model in sbp.ARCHITECTURES:
            s = sbp.scores(cfg, model, ratio, r, task, data_root)
        elif model == "features":
            s = sbp.feature_scores(cfg, ratio, r, task, data_root)
        elif model == "shortcut":
            s = sbp.shortcut_scores(cfg, r, task, data_root)
        else:
            raise ValueError(f"model={model!r}: use one of {MODELS + (ENSEMBLE,)}")
        out.append(s)
    return out


def _run(s: dict, level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One set's labelled, scored rows at ``level`` as :func:`hdmann.methods.bootstrap.mean_auroc` takes them."""
    rows = np.flatnonzero((s["labels"] >= 0) & np.isfinite(s[level]))
    return rows, s["labels"][rows], s[level][rows]


def fold_values(sets: list[dict], level: str, n_folds: int) -> tuple[list[float], list[float]]:
    """AUROC and AUPRC of every fold of every set at ``level``: the per-fold numbers behind a mean +- SD."""
    roc, prc = [], []
    for s in sets:
        for k in range(n_folds):
            rows = np.flatnonzero((s["fold"] == k) & (s["labels"] >= 0))
            roc.append(evaluation.auroc(s["labels"][rows], s[level][rows]))
            prc.append(evaluation.auprc(s["labels"][rows], s[level][rows]))
    return roc, prc


def set_auroc(s: dict, level: str) -> float:
    """Pooled out-of-fold AUROC of one set of held-out scores (one repeat) at ``level``."""
    rows, y, score = _run(s, level)
    return float(bootstrap.weighted_auroc(y, score.astype(np.float64), np.ones((1, len(rows))))[0])


def pooled_auroc_boot(sets: list[dict], level: str, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Pooled out-of-fold AUROC (mean over repeats) and its value on each patient resample."""
    return bootstrap.mean_auroc([_run(s, level) for s in sets], weights)
