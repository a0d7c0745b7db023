"""Study A beyond the paper: the saliency stage (``saliency``): where the frozen Study A model looks,
and whether compression moves it."""
from __future__ import annotations

import numpy as np

from hdmann.engine.stages import stage
from hdmann.methods import saliency, train
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.images import _fields, eval_sets


@stage("study_a_beyond/saliency",
       params=lambda bcfg, data_root: {"distance": bcfg.study_a.distance,
                                       "beyond": _fields(bcfg, ("saliency_images", "grid_images", "top_share",
                                                                "sample_seed"))},
       reads=lambda bcfg: [study_a.train_model.on(bcfg.study_a), eval_sets.on(bcfg)])
def saliency_agreement(bcfg: StudyABeyondConfig, data_root=None) -> dict:
    """Grad-CAM (last conv layer) and input gradients of the frozen Study A model, explained
    toward the key it predicts on the uncompressed image, at every level and for the mirrored image
    (mirrored back): agreement with the uncompressed map per image, and the maps of a few images."""
    cfg = bcfg.study_a
    model, _ = study_a.load_model(cfg, data_root)
    keys = study_a.key_memory(cfg).keys
    sets = eval_sets(bcfg, data_root)
    n = len(sets["val_original"])
    pick = np.arange(n) if bcfg.saliency_images is None or bcfg.saliency_images >= n else np.sort(
        np.random.default_rng(bcfg.sample_seed).choice(n, bcfg.saliency_images, replace=False))
    outputs_ = train.predict(model, sets["val_original"][pick])
    target = study_a.key_memory(cfg).predict(outputs_, cfg.distance)
    out = {"pick": pick, "target": target}
    references = ["flipped"] + study_a.levels(cfg)
    for method in ("grad_cam", "input_gradients"):
        base = saliency.hypervector_maps(model, sets["val_original"][pick], keys, target, method)
        for ref in references:
            if ref == "flipped":
                maps = saliency.hypervector_maps(model, sets["val_flipped"][pick], keys, target, method)[:, :, ::-1]
            else:
                maps = base if ref == "original" else saliency.hypervector_maps(
                    model, sets[f"val_{ref}"][pick], keys, target, method)
            out[f"{method}_{ref}_rank"] = np.array([saliency.rank_agreement(a, b) for a, b in zip(base, maps)])
            out[f"{method}_{ref}_top"] = np.array([saliency.top_overlap(a, b, bcfg.top_share)
                                                   for a, b in zip(base, maps)])
            out[f"{method}_{ref}_grid"] = maps[: bcfg.grid_images]
    out["grid_images"] = np.stack([sets[f"val_{lv}"][pick[: bcfg.grid_images]] for lv in study_a.levels(cfg)])
    return out
