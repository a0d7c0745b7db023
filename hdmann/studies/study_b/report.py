"""Study B on patches, the report: the tables of numbers behind the chapter, with paired
patient-bootstrap intervals (:mod:`hdmann.studies.study_b.scores`).

Nothing here trains; everything reads the cached stages of :mod:`hdmann.studies.study_b.pipeline`, so a
reworded rule or a new table never retrains a model. Sentences live in
:mod:`hdmann.studies.study_b.wording`, shown tables in :mod:`hdmann.studies.study_b.tables`, model
selection in :mod:`hdmann.studies.study_b.selection`, verdicts in :mod:`hdmann.studies.study_b.claims`.
"""
from __future__ import annotations

import numpy as np

from hdmann.engine.data import MIAS_SIZE
from hdmann.methods import bootstrap, evaluation
from hdmann.methods import saliency as sal
from hdmann.methods.words import count
from hdmann.studies import papers as paper
from hdmann.studies.study_b import maps, pipeline as sbp, selection
from hdmann.studies.study_b.config import StudyBConfig
from hdmann.studies.study_b.scores import (ENSEMBLE, fold_values, patch_weights,
                                           pooled_auroc_boot, repeats, score_sets, set_auroc, train_levels)
from hdmann.studies.study_b.wording import health_words, knee_label, level_words, model_label

PIXEL_UM = 200  # a mini-MIAS pixel's edge (the films were digitised at 50 µm and reduced to 200 µm)
FILM_PX = MIAS_SIZE  # a mini-MIAS film's side in pixels
CONSTANT_LOSS = float(np.log(2))  # the class-weighted cross-entropy of a constant output
HIGH_RATIO = 10_000  # the paper's "10K-11K" band, by what the codec achieved
REACHED = 0.9  # a level counts as reaching a ratio when its median film gets within 10 % of it


def ratio_table(cfg: StudyBConfig, data_root=None, tolerance: float = 0.10) -> list[dict]:
    """Per level: achieved ratio, bytes per film, bpp and PSNR inside the breast (and over the film)."""
    rows = []
    for level in sbp.levels(cfg):
        s = sbp.patch_set(cfg, sbp.ratio_of(level), data_root)
        target = sbp.ratio_of(level)
        rows.append({"level": level, "target_ratio": target or 1, "achieved_median": float(np.median(s["ratio"])),
                     "achieved_min": float(s["ratio"].min()), "achieved_max": float(s["ratio"].max()),
                     "bytes_per_film": float(np.median(s["encoded_bytes"])), "bpp": float(np.median(s["bpp"])),
                     "psnr_breast": float(np.mean(s["psnr_breast"])) if target else float("inf"),
                     "psnr_film": float(np.mean(s["psnr_film"])) if target else float("inf"),
                     "reached_share": float(np.mean(s["ratio"] >= (1 - tolerance) * (target or 1))),
                     "films": int(len(s["ratio"]))})
    return rows


def performance(cfg: StudyBConfig, model: str, experiment: str = "a", task: str = "malignant",
                data_root=None, repeat: int | None = None) -> list[dict]:
    """Experiment (a) (trained on originals, tested at each level) or (b) (trained and tested at the
    same level): per level, AUROC and AUPRC as mean +- SD over folds x repeats, the pooled AUROC, and
    the paired patient-bootstrap 95 % interval of its difference from originals. ``repeat``: one
    training seed's runs only (at every level, paired with the same seed's run on originals)."""
    if experiment not in ("a", "b"):
        raise ValueError(f"experiment={experiment!r}: use a or b")
    trained = train_levels(cfg, model)
    if not trained:
        return []
    base = score_sets(cfg, model, sbp.ORIGINAL, task, data_root, repeat)
    weights = patch_weights(cfg, data_root)
    ref_point, ref_boot = pooled_auroc_boot(base, sbp.ORIGINAL, weights)
    rows = []
    for level in sbp.levels(cfg):
        if experiment == "b" and level not in trained:
            continue
        sets = base if experiment == "a" or model == "shortcut" else score_sets(cfg, model, level, task, data_root, repeat)
        roc, prc = fold_values(sets, level, cfg.n_folds)
        point, boot = pooled_auroc_boot(sets, level, weights)
        (rm, rsd), (pm, psd) = evaluation.mean_sd(roc), evaluation.mean_sd(prc)
        low, high = bootstrap.interval(boot)
        dlow, dhigh = bootstrap.paired_interval(boot, ref_boot)
        rows.append({"model": model, "experiment": experiment, "level": level, "repeats": len(sets),
                     "auroc": rm, "auroc_sd": rsd, "auprc": pm, "auprc_sd": psd, "pooled_auroc": point,
                     "auroc_low": low, "auroc_high": high, "delta": point - ref_point,
                     "delta_low": dlow, "delta_high": dhigh,
                     "prevalence": float(np.mean(sets[0]["labels"][sets[0]["labels"] >= 0]))})
    return rows


def seed_values(cfg: StudyBConfig, task: str = "malignant", data_root=None) -> list[dict]:
    """Each training seed's (a repeat of the whole cross-validation) pooled held-out AUROC of each
    trained network, trained on originals, at every test level: the numbers behind ``orig_{model}``
    and experiment (a)'s table, whose seed mean they make."""
    rows = []
    for model in ("cnn", "resnet18"):
        if sbp.ORIGINAL not in train_levels(cfg, model):
            continue
        runs = [score_sets(cfg, model, sbp.ORIGINAL, task, data_root, r)[0]
                for r in range(repeats(cfg, model, sbp.ORIGINAL))]
        for level in sbp.levels(cfg):
            values = [set_auroc(s, level) for s in runs]
            glued = level == sbp.ORIGINAL
            rows.append({"chapter": "study_b_patches", "number": f"orig_{model}" if glued else
                         f"AUROC: {model} trained on originals, tested at {level}", "glued": glued,
                         "what": f"pooled AUROC, {model} trained on originals, tested at {level}", "values": values})
    rows.append({"chapter": "study_b_patches", "number": "nested_auroc", "glued": True, "values":
                 [set_auroc(selection.nested_scores(cfg, task, data_root), sbp.ORIGINAL)],
                 "what": "pooled AUROC on originals, the CNN variant of each fold chosen strictly nested (first repeat)"})
    return rows


def matrix(cfg: StudyBConfig, model: str = "cnn", task: str = "malignant", data_root=None
           ) -> tuple[list[str], list[str], np.ndarray]:
    """Experiment (c): mean AUROC over folds x repeats, rows = training level, columns = test level."""
    rows, cols = train_levels(cfg, model), sbp.levels(cfg)
    m = np.array([[evaluation.mean_sd(fold_values(score_sets(cfg, model, tr, task, data_root), te,
                                                  cfg.n_folds)[0])[0] for te in cols] for tr in rows])
    return rows, cols, m


def robustness(cfg: StudyBConfig, model: str = "cnn", task: str = "malignant", data_root=None) -> list[dict]:
    """For each compressed training level: at each test level, the paired interval of AUROC(trained
    there) minus AUROC(trained on originals), on the same patients."""
    weights = patch_weights(cfg, data_root)
    base = score_sets(cfg, model, sbp.ORIGINAL, task, data_root)
    rows = []
    for tr in train_levels(cfg, model)[1:]:
        sets = score_sets(cfg, model, tr, task, data_root)
        for te in sbp.levels(cfg):
            p1, b1 = pooled_auroc_boot(sets, te, weights)
            p0, b0 = pooled_auroc_boot(base, te, weights)
            low, high = bootstrap.paired_interval(b1, b0)
            rows.append({"train_level": tr, "test_level": te, "auroc_trained_here": p1, "auroc_trained_original": p0,
                         "delta": p1 - p0, "delta_low": low, "delta_high": high})
    return rows


def counts(cfg: StudyBConfig, data_root=None) -> dict:
    """Patches by kind and source, lesions left out, and patients split across folds (0 by design)."""
    p = sbp.patch_plan(cfg, data_root)
    odd = sbp.plan(cfg, data_root)["odd"]
    split = 0
    for r in range(cfg.patches.repeats):
        fold = sbp.folds(cfg, p, r)
        split += sum(len(np.unique(fold[p.patient == q])) > 1 for q in np.unique(p.patient))
    kinds = {k: int(np.sum(p.kind == k)) for k in ("malignant", "benign", "normal")}
    sources = {k: int(np.sum(p.source == k)) for k in np.unique(p.source)}
    return {"patches": len(p), **kinds, "sources": sources, "patients": int(len(np.unique(p.patient))),
            "films": int(len(np.unique(p.film))), "left_out": odd, "left_out_count": len(odd),
            "no_coordinates": sum(o["reason"] == "no coordinates" for o in odd),
            "off_breast": sum(o["reason"] == "centre outside the breast mask" for o in odd),
            "patients_split_across_folds": int(split)}


def balance(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """Mean intensity and edge distance of lesion and negative patches (the matching's check)."""
    p = sbp.patch_plan(cfg, data_root)
    return [{"kind": k, "patches": int(np.sum(p.kind == k)), "intensity_mean": float(p.intensity[p.kind == k].mean()),
             "intensity_sd": float(p.intensity[p.kind == k].std()), "edge_mean": float(p.edge[p.kind == k].mean()),
             "edge_sd": float(p.edge[p.kind == k].std())} for k in ("malignant", "benign", "normal")]


def centre_energy(size: int, radii, sigma_share: float) -> np.ndarray:
    """Energy inside each lesion's circle (centred in the patch, as every lesion patch is) of a
    centre-biased map: a Gaussian on the patch centre with SD ``sigma_share`` x ``size``. A saliency
    map that only looks at the middle of the patch scores this much without seeing the lesion."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    blob = np.exp(-((xx - c) ** 2 + (yy - c) ** 2) / (2 * (sigma_share * size) ** 2))
    return np.array([sal.energy_inside(blob, sal.circle_mask((size, size), c, c, r, original_size=size)) for r in radii])


def saliency_table(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """Per trained level: energy inside the circle and pointing-game hits of Grad-CAM and input
    gradients with bootstrap intervals, beside two maps that never saw the patch: a uniform one (the
    circle's share of the patch) and a centre-biased one (:func:`centre_energy`)."""
    plan = sbp.patch_plan(cfg, data_root)
    rows = []
    for level in train_levels(cfg, "cnn"):
        s = maps.patch_saliency(cfg, sbp.ratio_of(level), data_root)
        centre = centre_energy(cfg.patches.size, plan.radius[s["index"]], cfg.patches.saliency_centre_sigma)
        row = {"level": level, "patches": int(len(s["index"])), "uniform_baseline": float(np.mean(s["circle_share"])),
               "centre_baseline": float(np.mean(centre))}
        for method in ("gradcam", "gradient"):
            for score in ("energy", "hit"):
                m, low, high = sal.bootstrap_mean_ci(s[f"{method}_{score}"], cfg.bootstrap_samples, cfg.bootstrap_seed)
                row.update({f"{method}_{score}": m, f"{method}_{score}_low": low, f"{method}_{score}_high": high})
        rows.append(row)
    return rows


def sliding_chance(s: dict, circles: list[list], stride: int) -> np.ndarray:
    """Per film, the hit rate of a peak placed at random among the film's windows (the grid cells
    inside the breast): the share of those window centres that lie in a malignant circle within half
    a stride, the same test a peak must pass. ``s``: a :func:`hdmann.studies.study_b.maps.sliding_maps`
    output; ``circles``: each film's malignant lesions (``x``, ``y``, ``radius``)."""
    grid = s["grid"]
    xs, ys = np.meshgrid(grid, grid)  # maps are indexed [row = y, column = x]
    out = []
    for grid_map, film_circles in zip(s["maps"], circles):
        inside = np.isfinite(grid_map)
        near = np.zeros_like(inside)
        for c in film_circles:
            near |= np.hypot(xs - c.x, ys - c.y) <= c.radius + stride / 2
        out.append(float(np.mean(near[inside])) if inside.any() else float("nan"))
    return np.array(out)


def sliding_table(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """Per level: how often the map's peak falls in a malignant circle, with a bootstrap interval over
    films, beside the chance of a random window doing so (:func:`sliding_chance`, mean over films)."""
    mias = sbp.study_b.films(cfg, data_root)
    rows = []
    for level in sbp.levels(cfg):
        s = maps.sliding_maps(cfg, sbp.ratio_of(level), data_root)
        circles = [[les for les in mias.lesions[mias.names[i]] if les.severity == "malignant"] for i in s["films"]]
        m, low, high = sal.bootstrap_mean_ci(s["hit"], cfg.bootstrap_samples, cfg.bootstrap_seed)
        rows.append({"level": level, "films": int(len(s["hit"])), "hit_rate": m, "hit_low": low, "hit_high": high,
                     "chance": float(np.nanmean(sliding_chance(s, circles, cfg.patches.sliding_stride)))})
    return rows


def _target(level: str) -> int:
    return sbp.ratio_of(level) or 1


def achieved_ratios(cfg: StudyBConfig, data_root=None) -> dict[str, float]:
    """The median achieved compression ratio of every level (originals: 1)."""
    return {r["level"]: (r["achieved_median"] if sbp.ratio_of(r["level"]) else 1.0) for r in ratio_table(cfg, data_root)}


def example_level(ratios: list[dict]) -> dict:
    """The first compressed level at or beyond 1,000:1 (else the highest), to say what a ratio leaves of a film."""
    compressed = [r for r in ratios if sbp.ratio_of(r["level"])]
    r = next((r for r in compressed if r["target_ratio"] >= 1000), compressed[-1])
    return {"words": level_words(r["level"]), "bytes_per_film": r["bytes_per_film"]}


def paper_values() -> dict:
    return dict(paper.STUDY_B)


def knee(rows: list[dict], margin: float) -> str | None:
    """The first level (in order of target) whose AUROC loss exceeds ``margin``: its paired interval
    lies wholly below −margin, so a loss within the margin (the "flat" of the claims) is no knee."""
    for r in sorted(rows, key=lambda r: _target(r["level"])):
        if r["delta_high"] < -margin:
            return r["level"]
    return None


def seeded_knee(cfg: StudyBConfig, pooled_rows: list[dict], model: str = "cnn", task: str = "malignant",
                data_root=None) -> dict:
    """:func:`knee` of experiment (a) pooled over the repeats (``pooled_rows``: :func:`performance`'s,
    which the chapter has already), and each repeat's own: a knee is a point read off a curve, not a
    verdict a seed rule decides, so the chapter shows how it moves."""
    m = cfg.patches.flat_auroc_margin
    pooled = knee(pooled_rows, m)
    per_seed = [knee(performance(cfg, model, "a", task, data_root, repeat=r), m)
                for r in range(repeats(cfg, model, sbp.ORIGINAL))]
    same = sum(k == pooled for k in per_seed)
    return {"knee": knee_label(pooled), "seeds": ", ".join(knee_label(k) for k in per_seed),
            "agree": same, "n": len(per_seed), "margin": m,
            "wording": f"Taken alone, the seeds find the same knee in {same} of {len(per_seed)} "
                       f"({', '.join(knee_label(k) for k in per_seed)})"}


def ensemble(cfg: StudyBConfig, level: str = sbp.ORIGINAL, task: str = "malignant", data_root=None) -> dict:
    """The CNN's seed ensemble (:data:`ENSEMBLE`) trained and tested at ``level``: its pooled AUROC
    with the patient-bootstrap interval, and its paired difference from the feature baseline."""
    if repeats(cfg, "cnn", level) < 2:
        return {"members": repeats(cfg, "cnn", level)}
    versus = head_to_head(cfg, ENSEMBLE, "features", level, task, data_root)
    weights = patch_weights(cfg, data_root)
    point, boot = pooled_auroc_boot(score_sets(cfg, ENSEMBLE, level, task, data_root), level, weights)
    low, high = bootstrap.interval(boot)
    return {"model": ENSEMBLE, "level": level, "members": repeats(cfg, "cnn", level), "auroc": point,
            "auroc_low": low, "auroc_high": high, "versus_features": versus}


contralateral_config = sbp.contralateral_config


def contralateral(cfg: StudyBConfig, models: tuple[str, ...] = ("features", "shortcut"), task: str = "malignant",
                  data_root=None) -> list[dict]:
    """Models of :data:`MODELS` on originals with contralateral negatives, beside the matched scheme:
    per model, the pooled AUROC and its patient-bootstrap interval under each scheme, and the
    patch counts. Contralateral patches are not intensity-matched: the shortcut shows how much that
    opens a brightness cue."""
    contra = contralateral_config(cfg)
    p = sbp.patch_plan(contra, data_root)
    rows = []
    for model in models:
        for scheme, c in (("matched", cfg), ("contralateral", contra)):
            row = performance(c, model, "a", task, data_root)[0]
            rows.append({"model": model, "scheme": scheme, "repeats": row["repeats"], "pooled_auroc": row["pooled_auroc"],
                         "auroc_low": row["auroc_low"], "auroc_high": row["auroc_high"], "auroc": row["auroc"],
                         "auroc_sd": row["auroc_sd"],
                         "patches": int(len(sbp.patch_plan(c, data_root))),
                         "negatives_contralateral": int(np.sum(p.source == "contralateral")) if scheme == "contralateral"
                         else 0})
    return rows


def head_to_head(cfg: StudyBConfig, model: str = "cnn", other: str = "features", level: str = sbp.ORIGINAL,
                 task: str = "malignant", data_root=None) -> dict:
    """Pooled AUROC of ``model`` minus that of ``other``, both trained and tested at ``level``, with a
    paired patient-bootstrap 95 % interval (the same resampled patients on both sides)."""
    weights = patch_weights(cfg, data_root)
    a_point, a_boot = pooled_auroc_boot(score_sets(cfg, model, level, task, data_root), level, weights)
    b_point, b_boot = pooled_auroc_boot(score_sets(cfg, other, level, task, data_root), level, weights)
    low, high = bootstrap.paired_interval(a_boot, b_boot)
    return {"model": model, "other": other, "level": level, "auroc": a_point, "other_auroc": b_point,
            "delta": a_point - b_point, "delta_low": low, "delta_high": high}


def health_table(cfg: StudyBConfig, data_root=None, architectures=sbp.ARCHITECTURES) -> list[dict]:
    """Every fold model of every run: how many attempts it took to learn (:func:`hdmann.studies.study_b.pipeline.fold_health`),
    its training AUROC and final loss at the first try and in the end, and whether it learned."""
    rows = []
    for arch in architectures:
        for level in sbp.train_levels(cfg, arch):
            for r in range(repeats(cfg, arch, level)):
                for f in sbp.run_info(cfg, arch, sbp.ratio_of(level), r, "malignant", data_root):
                    tries = f.get("attempts") or [{"train_auroc": f["train_auroc"], "final_loss": f["loss"][-1],
                                                    "healthy": True, "why": "learned"}]
                    rows.append({"model": arch, "trained at": level, "repeat": r, "fold": f["fold"] + 1,
                                 "attempts": len(tries), "first train AUROC": tries[0]["train_auroc"],
                                 "first final loss": tries[0]["final_loss"], "train AUROC": f["train_auroc"],
                                 "final loss": f["loss"][-1], "learned": bool(f.get("healthy", True)),
                                 "why not": "; ".join(t["why"] for t in tries if not t["healthy"])})
    return rows


def health_summary(cfg: StudyBConfig, data_root=None, architectures=sbp.ARCHITECTURES) -> dict:
    """Counts over :func:`health_table`: fold models that learned at the first try, that were
    retrained, and that never learned (kept and named), with the rule as a sentence."""
    rows = health_table(cfg, data_root, architectures)
    retrained = [r for r in rows if r["attempts"] > 1]
    out = {"folds": len(rows), "first_try": sum(r["attempts"] == 1 and r["learned"] for r in rows),
            "retrained": len(retrained), "recovered": sum(r["learned"] for r in retrained),
            "unhealthy": sum(not r["learned"] for r in rows),
            "named": "; ".join(f"{model_label(r['model'])} at {level_words(r['trained at'])}, seed {r['repeat'] + 1}, "
                               f"fold {r['fold']}" for r in rows if not r["learned"]) or "none",
            "rule": (f"A fold model has learned when its training loss stays finite and it ranks its own training "
                     f"patches at an AUROC of at least {cfg.patches.health_min_train_auroc:g}. "
                     + (f"One that has not is retrained from the next seed, up to {count(cfg.patches.health_retries, 'time')}. "
                        if cfg.patches.health_retries else "This profile retrains none that has not. ")
                     + "One that never learns is kept and named here: dropping it would drop its patients from the "
                       "held-out scores.")}
    return {**out, "text": health_words(out)}


def training_fit(cfg: StudyBConfig, model: str = "cnn", train_level: str = sbp.ORIGINAL, data_root=None) -> dict:
    """How well the fold models of ``model`` fit their own training patches: the mean over folds x
    repeats of the AUROC on the training patches seen as a test patch is (centred, no augmentation,
    no dropout), and of the last epoch's class-weighted training loss (under augmentation and dropout)."""
    folds = [f for r in range(repeats(cfg, model, train_level))
             for f in sbp.run_info(cfg, model, sbp.ratio_of(train_level), r, "malignant", data_root)]
    return {"train_auroc": float(np.mean([f["train_auroc"] for f in folds])),
            "final_loss": float(np.mean([f["loss"][-1] for f in folds])), "folds": len(folds)}
