"""Study B's maps: Grad-CAM and input gradients of the lesion patches, and sliding-window maps over
whole films, from the patch CNN's fold models (:mod:`hdmann.studies.study_b.pipeline`)."""
from __future__ import annotations

import numpy as np

from hdmann.engine import data
from hdmann.engine.stages import stage
from hdmann.methods import patches, saliency as sal, train
from hdmann.studies.study_b import control as study_b
from hdmann.studies.study_b.config import StudyBConfig
from hdmann.studies.study_b.pipeline import (centre, fold_model, folds, levels, model_input, patch_plan, patch_set,
                                             ratio_of, run, train_levels)


def stage_calls(cfg: StudyBConfig) -> list:
    """The maps the chapter shows: saliency at each CNN training level, sliding windows at each test level."""
    return ([patch_saliency.on(cfg, ratio_of(lv)) for lv in train_levels(cfg, "cnn")]
            + [sliding_maps.on(cfg, ratio_of(lv)) for lv in levels(cfg)])


@stage("study_b_patches/saliency",
       reads=lambda cfg, train_ratio: [run.on(cfg, "cnn", train_ratio, 0, "malignant"), patch_set.on(cfg, train_ratio)])
def patch_saliency(cfg: StudyBConfig, train_ratio: int | None, data_root=None) -> dict:
    """Grad-CAM and input gradients of every malignant lesion patch, from the repeat-0 fold model
    that held it out, trained and tested at ``train_ratio``; energy inside the circle (centred in
    the patch, its radius clipped to the patch), pointing-game hit, and the circle's share."""
    p = patch_plan(cfg, data_root)
    fold = folds(cfg, p, 0)
    x = centre(patch_set(cfg, train_ratio, data_root)["patches"], cfg.patches.size)
    chosen = np.flatnonzero(p.kind == "malignant")
    s = cfg.patches.size
    out = {"index": chosen.astype(np.int64)}
    for method in ("gradcam", "gradient"):
        out[f"{method}_maps"] = np.zeros((len(chosen), s, s), np.float16)
    for k in range(cfg.n_folds):
        rows = np.flatnonzero(fold[chosen] == k)
        if len(rows):
            model = fold_model(cfg, "cnn", train_ratio, 0, k, data_root)
            images = model_input(x[chosen[rows]], cfg.patches.standardise)
            out["gradcam_maps"][rows] = sal.grad_cam(model, images)
            out["gradient_maps"][rows] = sal.input_gradients(model, images)
    masks = [sal.circle_mask((s, s), (s - 1) / 2, (s - 1) / 2, p.radius[i], original_size=s) for i in chosen]
    for method in ("gradcam", "gradient"):
        maps = out[f"{method}_maps"].astype(np.float32)
        out[f"{method}_energy"] = np.array([sal.energy_inside(m, k) for m, k in zip(maps, masks)])
        out[f"{method}_hit"] = np.array([sal.pointing_hit(m, k) for m, k in zip(maps, masks)], np.float64)
    out["circle_share"] = np.array([k.mean() for k in masks])
    return out


@stage("study_b_patches/sliding", params=lambda cfg, data_root: {"sliding_stride": cfg.patches.sliding_stride},
       reads=lambda cfg, ratio: [run.on(cfg, "cnn", None, 0, "malignant"), patch_set.on(cfg, ratio)])
def sliding_maps(cfg: StudyBConfig, ratio: int | None, data_root=None) -> dict:
    """The patch classifier (trained on originals, repeat 0, the fold that held the film out) slid
    over whole films decoded at ``ratio`` with stride ``sliding_stride``, windows centred inside the
    breast. Per film: the score map, its peak, and whether the peak lies in a malignant circle
    (within half a stride, the map's resolution)."""
    mias = study_b.films(cfg, data_root)
    p = patch_plan(cfg, data_root)
    fold = folds(cfg, p, 0)
    s = patch_set(cfg, ratio, data_root)
    half = cfg.patches.size // 2
    side = s["sliding"].shape[-1]
    grid = np.arange(half, side - half + 1, cfg.patches.sliding_stride)
    out_maps, peaks, hits = [], [], []
    models = {}
    for film_index, film in zip(s["sliding_ids"], s["sliding"]):
        k = int(fold[np.flatnonzero(p.film == film_index)[0]])
        if k not in models:
            models[k] = fold_model(cfg, "cnn", None, 0, k, data_root)
        mask = patches.breast_mask(film if ratio is None else
                                   data.read_image(mias.path(mias.names[film_index]), "L"), cfg.patches.breast_threshold)
        centres = [(x, y) for y in grid for x in grid if mask[y, x]]
        windows = np.stack([patches.cut(film, x, y, cfg.patches.size) for x, y in centres])
        score = train.predict(models[k], model_input(windows, cfg.patches.standardise), 64).ravel()
        grid_map = np.full((len(grid), len(grid)), np.nan, np.float32)
        pos = {v: j for j, v in enumerate(grid)}
        for (x, y), v in zip(centres, score):
            grid_map[pos[y], pos[x]] = v
        px, py = centres[int(np.argmax(score))]
        circles = [les for les in mias.lesions[mias.names[film_index]] if les.severity == "malignant"]
        hit = any(np.hypot(px - c.x, py - c.y) <= c.radius + cfg.patches.sliding_stride / 2 for c in circles)
        out_maps.append(grid_map)
        peaks.append((px, py))
        hits.append(hit)
    return {"maps": np.array(out_maps), "grid": grid, "peaks": np.array(peaks, np.float64).reshape(-1, 2),
            "hit": np.array(hits, np.float64), "films": s["sliding_ids"]}
