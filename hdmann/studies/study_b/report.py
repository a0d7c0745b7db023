"""Study B on patches, the report: tables, paired patient-bootstrap intervals and claim verdicts.

Nothing here trains; everything reads the cached stages of :mod:`hdmann.studies.study_b.pipeline`, so a
reworded rule or a new table never retrains a model.

Intervals: scores of the held-out patches are pooled over the five folds of a repeat; the patients
are resampled with replacement (all patches of a drawn patient come along, as often as the patient
is drawn); the AUROC of each repeat is computed on the resample and averaged over repeats. A
paired interval uses the same resamples for both sides of a difference.
"""
from __future__ import annotations

import numpy as np

from hdmann.engine.data import MIAS_SIZE
from hdmann.methods import bootstrap, evaluation
from hdmann.methods.words import count, listing, ratio as ratio_words  # ratio_words: the notebook names it so
from hdmann.studies import papers as paper
from hdmann.studies.study_b import pipeline as sbp
from hdmann.studies.study_b.config import StudyBConfig

MODELS = ("cnn", "resnet18", "features", "shortcut")
ENSEMBLE = "cnn_ensemble"  # the CNN's held-out scores averaged over its repeats
MODEL_LABELS = {"cnn": "CNN (3 conv, 3 FC)", "resnet18": "ResNet18 (from scratch)",
                "features": "texture features + logistic regression", "shortcut": "brightness shortcut (patch mean)",
                ENSEMBLE: "CNN, seed ensemble"}


def models(cfg: StudyBConfig) -> tuple[str, ...]:
    """The rows of the chapter's tables: :data:`MODELS`, and the CNN's seed ensemble where the CNN
    has more than one repeat on originals (with one it would repeat the CNN's row)."""
    return MODELS + ((ENSEMBLE,) if repeats(cfg, "cnn", sbp.ORIGINAL) > 1 else ())


# ------------------------------------------------------------------------------------------------
# which runs exist
# ------------------------------------------------------------------------------------------------
repeats = sbp.repeats  # which runs exist is the pipeline's choice (its graph lists them)


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


# ------------------------------------------------------------------------------------------------
# statistics
# ------------------------------------------------------------------------------------------------
weighted_auroc = bootstrap.weighted_auroc  # shared with every report that bootstraps an AUROC
patient_weights = bootstrap.group_weights


def _rows(s: dict, level: str) -> np.ndarray:
    return np.flatnonzero((s["labels"] >= 0) & np.isfinite(s[level]))


def fold_values(sets: list[dict], level: str, n_folds: int) -> tuple[list[float], list[float]]:
    roc, prc = [], []
    for s in sets:
        for k in range(n_folds):
            rows = np.flatnonzero((s["fold"] == k) & (s["labels"] >= 0))
            roc.append(evaluation.auroc(s["labels"][rows], s[level][rows]))
            prc.append(evaluation.auprc(s["labels"][rows], s[level][rows]))
    return roc, prc


def set_auroc(s: dict, level: str) -> float:
    """Pooled out-of-fold AUROC of one set of held-out scores (one repeat) at ``level``."""
    rows = _rows(s, level)
    return float(weighted_auroc(s["labels"][rows], s[level][rows].astype(np.float64), np.ones((1, len(rows))))[0])


def pooled_auroc_boot(sets: list[dict], level: str, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Pooled out-of-fold AUROC (mean over repeats) and its value on each patient resample."""
    point, boots = [], []
    for s in sets:
        rows = _rows(s, level)
        point.append(set_auroc(s, level))
        boots.append(weighted_auroc(s["labels"][rows], s[level][rows].astype(np.float64), weights[:, rows]))
    return float(np.mean(point)), np.mean(boots, axis=0)


def _ci(values: np.ndarray) -> tuple[float, float]:
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


# ------------------------------------------------------------------------------------------------
# tables
# ------------------------------------------------------------------------------------------------
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
    patient = sbp.patch_plan(cfg, data_root).patient
    weights = patient_weights(patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
    ref_point, ref_boot = pooled_auroc_boot(base, sbp.ORIGINAL, weights)
    rows = []
    for level in sbp.levels(cfg):
        if experiment == "b" and level not in trained:
            continue
        sets = base if experiment == "a" or model == "shortcut" else score_sets(cfg, model, level, task, data_root, repeat)
        roc, prc = fold_values(sets, level, cfg.n_folds)
        point, boot = pooled_auroc_boot(sets, level, weights)
        (rm, rsd), (pm, psd) = evaluation.mean_sd(roc), evaluation.mean_sd(prc)
        low, high = _ci(boot)
        dlow, dhigh = _ci(boot - ref_boot)
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
                 [set_auroc(nested_scores(cfg, task, data_root), sbp.ORIGINAL)],
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
    patient = sbp.patch_plan(cfg, data_root).patient
    weights = patient_weights(patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
    base = score_sets(cfg, model, sbp.ORIGINAL, task, data_root)
    rows = []
    for tr in train_levels(cfg, model)[1:]:
        sets = score_sets(cfg, model, tr, task, data_root)
        for te in sbp.levels(cfg):
            p1, b1 = pooled_auroc_boot(sets, te, weights)
            p0, b0 = pooled_auroc_boot(base, te, weights)
            low, high = _ci(b1 - b0)
            rows.append({"train_level": tr, "test_level": te, "auroc_trained_here": p1, "auroc_trained_original": p0,
                         "delta": p1 - p0, "delta_low": low, "delta_high": high})
    return rows


def counts(cfg: StudyBConfig, data_root=None) -> dict:
    """Patches by kind and source, lesions left out, and patients split across folds (0 by design)."""
    p = sbp.patch_plan(cfg, data_root)
    odd = sbp.plan(cfg, data_root)["odd"]
    split = 0
    for r in range(cfg.patch_repeats):
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
    from hdmann.methods import saliency as sal

    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    blob = np.exp(-((xx - c) ** 2 + (yy - c) ** 2) / (2 * (sigma_share * size) ** 2))
    return np.array([sal.energy_inside(blob, sal.circle_mask((size, size), c, c, r, original_size=size)) for r in radii])


def saliency_table(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """Per trained level: energy inside the circle and pointing-game hits of Grad-CAM and input
    gradients with bootstrap intervals, beside two maps that never saw the patch: a uniform one (the
    circle's share of the patch) and a centre-biased one (:func:`centre_energy`)."""
    from hdmann.methods.saliency import bootstrap_mean_ci

    plan = sbp.patch_plan(cfg, data_root)
    rows = []
    for level in train_levels(cfg, "cnn"):
        s = sbp.patch_saliency(cfg, sbp.ratio_of(level), data_root)
        centre = centre_energy(cfg.patch_size, plan.radius[s["index"]], cfg.saliency_centre_sigma)
        row = {"level": level, "patches": int(len(s["index"])), "uniform_baseline": float(np.mean(s["circle_share"])),
               "centre_baseline": float(np.mean(centre))}
        for method in ("gradcam", "gradient"):
            for score in ("energy", "hit"):
                m, low, high = bootstrap_mean_ci(s[f"{method}_{score}"], cfg.bootstrap_samples, cfg.bootstrap_seed)
                row.update({f"{method}_{score}": m, f"{method}_{score}_low": low, f"{method}_{score}_high": high})
        rows.append(row)
    return rows


def sliding_chance(s: dict, circles: list[list], stride: int) -> np.ndarray:
    """Per film, the hit rate of a peak placed at random among the film's windows (the grid cells
    inside the breast): the share of those window centres that lie in a malignant circle within half
    a stride, the same test a peak must pass. ``s``: a :func:`hdmann.studies.study_b.pipeline.sliding_maps`
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
    from hdmann.methods.saliency import bootstrap_mean_ci

    mias = sbp.study_b.films(cfg, data_root)
    rows = []
    for level in sbp.levels(cfg):
        s = sbp.sliding_maps(cfg, sbp.ratio_of(level), data_root)
        circles = [[les for les in mias.lesions[mias.names[i]] if les.severity == "malignant"] for i in s["films"]]
        m, low, high = bootstrap_mean_ci(s["hit"], cfg.bootstrap_samples, cfg.bootstrap_seed)
        rows.append({"level": level, "films": int(len(s["hit"])), "hit_rate": m, "hit_low": low, "hit_high": high,
                     "chance": float(np.nanmean(sliding_chance(s, circles, cfg.sliding_stride)))})
    return rows


# ------------------------------------------------------------------------------------------------
# verdicts
# ------------------------------------------------------------------------------------------------
def _target(level: str) -> int:
    return sbp.ratio_of(level) or 1


HIGH_RATIO = 10_000  # the paper's "10K-11K" band, by what the codec achieved
REACHED = 0.9  # a level counts as reaching a ratio when its median film gets within 10 % of it


def achieved_ratios(cfg: StudyBConfig, data_root=None) -> dict[str, float]:
    """The median achieved compression ratio of every level (originals: 1)."""
    return {r["level"]: (r["achieved_median"] if sbp.ratio_of(r["level"]) else 1.0) for r in ratio_table(cfg, data_root)}


def paper_values() -> dict:
    return dict(paper.STUDY_B)


def knee(rows: list[dict], margin: float) -> str | None:
    """The first level (in order of target) whose AUROC loss exceeds ``margin``: its paired interval
    lies wholly below −margin, so a loss within the margin (the "flat" of the claims) is no knee."""
    for r in sorted(rows, key=lambda r: _target(r["level"])):
        if r["delta_high"] < -margin:
            return r["level"]
    return None


def knee_sentence(knee_words: str) -> str:
    """Where the CNN's curve bends, pooled over the seeds, as a sentence (``knee_words``: :func:`knee_label`)."""
    if knee_words == "none":
        return ("Trained on originals and tested at each level, the CNN has no knee pooled over the seeds: no level "
                "loses more than the margin.")
    return f"Trained on originals and tested at each level, the CNN's knee lies at {knee_words}, pooled over the seeds."


def knee_label(level: str | None) -> str:
    return "none" if level is None else level_words(level)


def seeded_knee(cfg: StudyBConfig, pooled_rows: list[dict], model: str = "cnn", task: str = "malignant",
                data_root=None) -> dict:
    """:func:`knee` of experiment (a) pooled over the repeats (``pooled_rows``: :func:`performance`'s,
    which the chapter has already), and each repeat's own: a knee is a point read off a curve, not a
    verdict a seed rule decides, so the chapter shows how it moves."""
    m = cfg.flat_auroc_margin
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
    weights = patient_weights(sbp.patch_plan(cfg, data_root).patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
    point, boot = pooled_auroc_boot(score_sets(cfg, ENSEMBLE, level, task, data_root), level, weights)
    low, high = _ci(boot)
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


SELECTION_TIE = 0.02  # inner-validation AUROCs closer than this count as a tie: the smaller model wins


def selection_table(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """The CNN variants tried on the inner splits (see :func:`hdmann.studies.study_b.pipeline.selection`):
    pooled inner-validation AUROC with a patient-bootstrap interval, mean +- SD over the five inner
    validation sets, parameters, and the final training loss."""
    rows = []
    for variant in cfg.patch_select_variants:
        s = sbp.selection(cfg, variant, data_root)
        y, score = s["labels"], s["score"].astype(np.float64)
        patient = s["patient"]
        weights = patient_weights(patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
        low, high = _ci(weighted_auroc(y, score, weights))
        per = [evaluation.auroc(y[s["outer_fold"] == k], score[s["outer_fold"] == k]) for k in range(cfg.n_folds)]
        mean, sd = evaluation.mean_sd(per)
        rows.append({"variant": variant, "params": int(s["params"]),
                     "inner_auroc": float(weighted_auroc(y, score, np.ones((1, len(y))))[0]),
                     "inner_low": low, "inner_high": high, "inner_mean": mean, "inner_sd": sd,
                     "final_loss": float(np.mean(s["final_loss"]))})
    return rows


def selected_variant(rows: list[dict]) -> dict:
    """The rule, fixed before the runs: the highest pooled inner-validation AUROC, except that a
    variant within :data:`SELECTION_TIE` of it with fewer parameters wins (the simpler model)."""
    best = max(r["inner_auroc"] for r in rows)
    near = [r for r in rows if r["inner_auroc"] >= best - SELECTION_TIE]
    chosen = min(near, key=lambda r: (r["params"], -r["inner_auroc"]))
    return {"variant": chosen["variant"], "rule": f"the highest pooled inner-validation AUROC; a variant within "
            f"{SELECTION_TIE} of it with fewer parameters wins"}


def nested_choice(selections: dict[str, dict], n_folds: int) -> list[dict]:
    """Strictly nested selection: for each outer fold k, the variant that :func:`selected_variant`'s
    rule picks from the inner-validation scores computed inside fold k's own training patients
    (``outer_fold == k``) alone. Those rows are never fold k's test patches, and no other fold's inner
    scores vote for fold k (they hold fold k's test patients). ``selections``: variant ->
    :func:`hdmann.studies.study_b.pipeline.selection` output."""
    rows = []
    for k in range(n_folds):
        candidates = []
        for variant, s in selections.items():
            mine = s["outer_fold"] == k
            y, score = s["labels"][mine], s["score"][mine].astype(np.float64)
            auc = evaluation.auroc(y, score) if len(np.unique(y)) == 2 else float("nan")
            candidates.append({"variant": variant, "inner_auroc": auc, "params": int(s["params"])})
        scored = [c for c in candidates if np.isfinite(c["inner_auroc"])]
        chosen = selected_variant(scored)["variant"] if scored else "none (no malignant inner patch)"
        rows.append({"outer fold": k + 1, "chosen": chosen,
                     **{f"{c['variant']} inner AUROC": c["inner_auroc"] for c in candidates}})
    return rows


def nested_selection(cfg: StudyBConfig, data_root=None) -> dict:
    """:func:`nested_choice` on this profile's variants, and in how many outer folds it picks the
    configured CNN (the one every run trains)."""
    rows = nested_choice({v: sbp.selection(cfg, v, data_root) for v in cfg.patch_select_variants}, cfg.n_folds)
    configured = configured_variant(cfg)
    return {"rows": rows, "configured": configured or "none of the tried variants",
            "agree": sum(r["chosen"] == configured for r in rows), "folds": len(rows)}


def nested_scores(cfg: StudyBConfig, task: str = "malignant", data_root=None) -> dict:
    """Repeat 0's held-out scores with the variant chosen strictly nested: every patch of outer fold
    k is scored by the fold-k model of the variant :func:`nested_choice` picked for fold k (each
    variant's repeat 0 is in the chapter's graph, :func:`hdmann.studies.study_b.patch_stages`). A fold whose inner
    split holds no malignant patch has no choice and keeps the configured CNN (so named in
    ``chosen``, the variant per fold)."""
    rows = nested_selection(cfg, data_root)["rows"]
    out = {k: np.array(v, copy=True) for k, v in sbp.scores(cfg, "cnn", None, 0, task, data_root).items()}
    chosen = []
    for row in rows:
        k, variant = row["outer fold"] - 1, row["chosen"]
        if variant not in cfg.patch_select_variants:
            chosen.append(f"{configured_variant(cfg) or 'the configured CNN'} (kept: no malignant inner patch)")
            continue
        s = sbp.scores(sbp.variant_config(cfg, variant), "cnn", None, 0, task, data_root)
        if not np.array_equal(s["fold"], out["fold"]):
            raise RuntimeError(f"variant {variant}'s repeat 0 has other folds than the configured CNN's: "
                               "the nested scores would mix patches; rebuild both runs (hdmann run study_b_patches)")
        mine = out["fold"] == k
        for level in sbp.levels(cfg):
            out[level][mine] = s[level][mine]
        chosen.append(variant)
    return {**out, "chosen": chosen}


def nested_estimate(cfg: StudyBConfig, task: str = "malignant", data_root=None) -> dict:
    """The CNN trained as strictly nested selection chooses it (:func:`nested_scores`), on originals:
    pooled AUROC with a patient-bootstrap interval, and paired differences (same resampled patients)
    from the configured CNN and from the texture features on the same repeat's folds."""
    patient = sbp.patch_plan(cfg, data_root).patient
    weights = patient_weights(patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
    nested = nested_scores(cfg, task, data_root)
    point, boot = pooled_auroc_boot([nested], sbp.ORIGINAL, weights)
    out = {"auroc": point, "chosen": nested["chosen"]}
    out["auroc_low"], out["auroc_high"] = _ci(boot)
    for name, model in (("configured", "cnn"), ("features", "features")):
        other, other_boot = pooled_auroc_boot(score_sets(cfg, model, sbp.ORIGINAL, task, data_root, repeat=0),
                                              sbp.ORIGINAL, weights)
        low, high = _ci(boot - other_boot)
        out.update({f"{name}_auroc": other, f"versus_{name}": point - other,
                    f"versus_{name}_low": low, f"versus_{name}_high": high})
    return out


def configured_variant(cfg: StudyBConfig) -> str | None:
    from hdmann.studies.study_b.config import PATCH_CNN_VARIANTS

    for name, values in PATCH_CNN_VARIANTS.items():
        if all(getattr(cfg, k) == v for k, v in values.items()):
            return name
    return None


def head_to_head(cfg: StudyBConfig, model: str = "cnn", other: str = "features", level: str = sbp.ORIGINAL,
                 task: str = "malignant", data_root=None) -> dict:
    """Pooled AUROC of ``model`` minus that of ``other``, both trained and tested at ``level``, with a
    paired patient-bootstrap 95 % interval (the same resampled patients on both sides)."""
    patient = sbp.patch_plan(cfg, data_root).patient
    weights = patient_weights(patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
    a_point, a_boot = pooled_auroc_boot(score_sets(cfg, model, level, task, data_root), level, weights)
    b_point, b_boot = pooled_auroc_boot(score_sets(cfg, other, level, task, data_root), level, weights)
    low, high = _ci(a_boot - b_boot)
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
                     f"patches at an AUROC of at least {cfg.health_min_train_auroc:g}. "
                     + (f"One that has not is retrained from the next seed, up to {count(cfg.health_retries, 'time')}. "
                        if cfg.health_retries else "This profile retrains none that has not. ")
                     + "One that never learns is kept and named here: dropping it would drop its patients from the "
                       "held-out scores.")}
    return {**out, "text": health_words(out)}


WELL_ABOVE_CHANCE = 0.6  # an interval whose lower end clears this is "well above chance"
UNDERFIT_AUROC = 0.9  # a model ranking its own training patches below this has not fit them


def training_fit(cfg: StudyBConfig, model: str = "cnn", train_level: str = sbp.ORIGINAL, data_root=None) -> dict:
    """How well the fold models of ``model`` fit their own training patches: the mean over folds x
    repeats of the AUROC on the training patches seen as a test patch is (centred, no augmentation,
    no dropout), and of the last epoch's class-weighted training loss (under augmentation and dropout)."""
    folds = [f for r in range(repeats(cfg, model, train_level))
             for f in sbp.run_info(cfg, model, sbp.ratio_of(train_level), r, "malignant", data_root)]
    return {"train_auroc": float(np.mean([f["train_auroc"] for f in folds])),
            "final_loss": float(np.mean([f["loss"][-1] for f in folds])), "folds": len(folds)}


def versus_wording(d: float, low: float, high: float, other: str = "the feature baseline") -> str:
    """A model against ``other``: ahead or behind only when the paired 95 % interval of the AUROC
    difference ``d`` excludes 0, else level."""
    if high < 0:
        return f"trails {other} by {-d:.3f} in AUROC (paired 95 % interval {low:+.3f} to {high:+.3f}, wholly below 0)"
    if low > 0:
        return f"beats {other} by {d:.3f} in AUROC (paired 95 % interval {low:+.3f} to {high:+.3f}, wholly above 0)"
    return (f"is level with {other}: the difference is {d:+.3f} in AUROC and its paired 95 % interval "
            f"({low:+.3f} to {high:+.3f}) includes 0")


def cnn_wording(cnn: dict, versus: dict, fit: dict) -> dict:
    """The chapter's computed sentences about the CNN on originals: against chance (``cnn`` is its
    :func:`performance` row), head to head with the feature baseline (``versus`` from
    :func:`head_to_head`), and why, read off how well it fits its own training patches (``fit`` from
    :func:`training_fit`). Each carries its rule."""
    if cnn["auroc_low"] > WELL_ABOVE_CHANCE:
        chance = f"lies well above chance (its lower end clears {WELL_ABOVE_CHANCE})"
    elif cnn["auroc_low"] > 0.5:
        chance = f"lies above chance, but not well above it (its lower end is below {WELL_ABOVE_CHANCE})"
    else:
        chance = "reaches down to chance (0.5)"
    order = versus_wording(versus["delta"], versus["delta_low"], versus["delta_high"])
    seen = (f"On its own training patches, seen as a test patch is (no augmentation, no dropout), its fold models reach "
            f"an AUROC of {fit['train_auroc']:.3f}. Its class-weighted training loss ends at {fit['final_loss']:.3f}; "
            "a constant output scores ln 2 = 0.693.")
    if fit["train_auroc"] < UNDERFIT_AUROC:
        why = (seen + " So within this budget it underfits the augmented task. What it learns of the lesions, it "
               "learns from few malignant examples.")
    else:
        why = (seen + " So it fits its training patches. What it misses on held-out patients is generalisation from "
               "few malignant lesions, not optimisation.")
    return {"chance": chance, "versus": order, "why": why,
            "rule": f"Well above chance means the interval's lower end exceeds {WELL_ABOVE_CHANCE}. Ahead of or behind "
                    f"the baseline needs a paired interval that excludes 0. Underfit means the fold models rank their own "
                    f"training patches with an AUROC below {UNDERFIT_AUROC}."}


def ensemble_wording(ens: dict) -> str:
    """Sentences on the seed ensemble of :func:`ensemble`, with the rule of :func:`cnn_wording` for
    the comparison; with one repeat there is none to report."""
    if ens.get("members", 0) < 2:
        return ("An ensemble over seeds needs more than one seed of the cross-validation. This profile trains one, "
                "so it reports none.")
    text = (f"Averaging each patch's held-out scores over the {ens['members']} seeds gives an ensemble that never saw "
            f"the patch it scores. It reaches {ens['auroc']:.3f} ({ens['auroc_low']:.3f} to {ens['auroc_high']:.3f}).")
    v = ens.get("versus_features")
    if not v:
        return text
    d, low, high = v["delta"], v["delta_low"], v["delta_high"]
    where = ("ahead of" if low > 0 else "behind" if high < 0 else "level with")
    return text + (f" That is {where} the feature baseline: {d:+.3f} in AUROC (paired 95 % interval {low:+.3f} to "
                   f"{high:+.3f}).")


def loss_extremes(rows: list[dict]) -> tuple[dict, dict]:
    """The selection rows with the lowest and the highest final training loss."""
    return min(rows, key=lambda r: r["final_loss"]), max(rows, key=lambda r: r["final_loss"])


# ------------------------------------------------------------------------------------------------
# what the reader sees: names in words, intervals, and the columns each shown table keeps
# ------------------------------------------------------------------------------------------------
PIXEL_UM = 200  # a mini-MIAS pixel's edge (the films were digitised at 50 µm and reduced to 200 µm)
VARIANT_LABELS = {
    "flatten": "flattened maps",
    "gap": "pooled maps",
    "flatten_wd": "flattened maps + weight decay",
    "gap_wd": "pooled maps + weight decay",
    "bn_wd": "BatchNorm + weight decay",
    "bn_wd_slow": "BatchNorm + weight decay + slow rate",
    "bn_wd_cos": "BatchNorm + weight decay + cosine rate",
}
TASK_LABELS = {"malignant": "malignant vs not", "abnormal": "abnormal vs normal",
               "malignant_vs_benign": "malignant vs benign"}
NO_FOLD_AUROC = "not measured (a fold with one class has no AUROC)"


def variant_label(name: str | None) -> str:
    """A CNN variant of :data:`hdmann.studies.study_b.config.PATCH_CNN_VARIANTS` in words."""
    return "none of the tried variants" if name is None else VARIANT_LABELS.get(name, name)


def model_label(model: str) -> str:
    return MODEL_LABELS.get(model, model)


def level_words(level: str) -> str:
    """A level by its target ratio, as the book writes ratios: "1,000:1", or "originals"."""
    ratio = sbp.ratio_of(level)
    return "originals" if ratio is None else ratio_words(ratio)


def _finite(*values) -> bool:
    return all(v is not None and np.isfinite(v) for v in values)


def interval_words(low: float, high: float, digits: int = 3) -> str:
    """"0.612 to 0.781", or "—" where the interval is not defined."""
    return f"{low:.{digits}f} to {high:.{digits}f}" if _finite(low, high) else "—"


def value_interval(value: float, low: float, high: float, digits: int = 3) -> str:
    """"0.701 (0.612 to 0.781)", or "—"."""
    return f"{value:.{digits}f} ({interval_words(low, high, digits)})" if _finite(value) else "—"


def mean_sd_words(mean: float, sd: float, digits: int = 3) -> str:
    """A mean over folds with its SD, or why there is none (a fold holding one class has no AUROC,
    and the mean over folds is then undefined, never averaged away)."""
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if _finite(mean, sd) else NO_FOLD_AUROC


def levels_words(ratios, every=None) -> str:
    """Compression levels in a sentence: a few are listed ("1,000:1 and 11,000:1"), many are a range
    ("12 levels from 15:1 to 11,000:1", the compression table lists them); "every compressed level"
    where ``ratios`` are all of ``every``."""
    ratios = sorted(ratios)
    if every is not None and ratios == sorted(every):
        return "every compressed level"
    if len(ratios) <= 3:
        return listing(ratio_words(r) for r in ratios)
    return f"{len(ratios)} levels from {ratio_words(ratios[0])} to {ratio_words(ratios[-1])}"


def plan_words(cfg: StudyBConfig, counts: dict) -> dict:
    """The design in words, from the profile and the patch counts (:func:`counts`): which levels train
    which model, the CNN's head, its learning-rate schedule and normalisation, the network's input, and
    about how many malignant patches an inner validation split would hold."""
    inner = round(counts["malignant"] * (1 - 1 / cfg.n_folds) / cfg.n_folds)
    levels = levels_words(cfg.patch_train_levels, cfg.patch_levels)
    resnet_levels = levels_words(cfg.patch_resnet_levels, cfg.patch_levels)
    if cfg.patch_train_levels:
        train = (f"The CNN also trains at {levels}, with {count(cfg.patch_level_repeats, 'seed')} each "
                 "(experiments (b) and (c)).")
    else:
        train = ("This profile trains no CNN on compressed films. Experiments (b) and (c) need one per level; "
                 "the paper profile trains them.")
    if cfg.patch_resnet_repeats:
        resnet = ("ResNet18 trains on originals" + (f" and at {resnet_levels}" if cfg.patch_resnet_levels else "")
                  + f", with {count(cfg.patch_resnet_repeats, 'seed')} of its cross-validation.")
    else:
        resnet = "ResNet18 is left to the paper profile: on a CPU it costs several times the CNN per epoch."
    return {
        "train_plan": train, "resnet_plan": resnet,
        "cnn_head": ("global average pooling before the dense layers" if cfg.patch_head == "gap"
                     else "the flattened feature maps"),
        "lr_schedule": ("decayed to zero along a cosine over the budget" if cfg.patch_lr_schedule == "cosine"
                        else "held constant"),
        "cnn_batchnorm": ("with BatchNormalization between each convolution and its ReLU" if cfg.patch_batchnorm
                          else "without normalisation layers"),
        "standardise": ("z-scored: each patch's mean and SD are removed, so the network sees no brightness"
                        if cfg.patch_standardise else "raw 8-bit grey levels"),
        "test_levels": levels_words(cfg.patch_levels),
        "max_normal_films": "all" if cfg.max_normal_films is None else f"{cfg.max_normal_films:,}",
        "weight_decay_words": (f"decoupled weight decay of {cfg.patch_weight_decay:g}" if cfg.patch_weight_decay
                               else "no weight decay"),
        "seeds_words": count(cfg.patch_repeats, "training seed"),
        "epochs_words": count(cfg.patch_epochs, "epoch"),
        "resnet_epochs_words": count(cfg.patch_resnet_epochs, "epoch"),
        "inner_malignant_words": count(inner, "malignant patch", "malignant patches"),
        "left_out_words": (f"{count(counts['left_out_count'], 'lesion')}: {counts['no_coordinates']:,} without "
                           f"coordinates, and {counts['off_breast']:,} whose circle lies on the background"),
    }


def ratio_display(rows: list[dict]):
    """The compression table as shown: target and achieved ratio, bytes per film, bpp, PSNR in the breast."""
    import pandas as pd

    return pd.DataFrame([{
        "Target ratio": level_words(r["level"]),
        "Achieved ratio (median film)": ratio_words(r["achieved_median"]) if sbp.ratio_of(r["level"]) else "—",
        "Bytes per film (median)": f"{r['bytes_per_film']:,.0f}",
        "bpp (median)": f"{r['bpp']:.4f}",
        "PSNR inside the breast (dB)": f"{r['psnr_breast']:.1f}" if np.isfinite(r["psnr_breast"]) else "— (lossless)",
        "Films near the target": f"{r['reached_share']:.0%}",
    } for r in rows])


def performance_display(rows: list[dict]):
    """Study B's performance table as shown: the pooled AUROC and its change from originals, with
    intervals, and the AUPRC; the CSV keeps the per-fold means and SDs."""
    import pandas as pd

    return pd.DataFrame([{
        "Model": model_label(r["model"]), "Experiment": f"({r['experiment']})", "Level": level_words(r["level"]),
        "Seeds": r["repeats"], "Pooled AUROC": value_interval(r["pooled_auroc"], r["auroc_low"], r["auroc_high"]),
        "Change from originals": ("—" if r["level"] == sbp.ORIGINAL else
                                  f"{r['delta']:+.3f} ({interval_words(r['delta_low'], r['delta_high'])})"),
        "AUPRC (mean over folds)": f"{r['auprc']:.3f}" if np.isfinite(r["auprc"]) else "—",
    } for r in rows])


def selection_display(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([{
        "CNN variant": variant_label(r["variant"]), "Parameters": f"{r['params']:,}",
        "Inner AUROC, pooled": value_interval(r["inner_auroc"], r["inner_low"], r["inner_high"]),
        "Per inner set": mean_sd_words(r["inner_mean"], r["inner_sd"]) if _finite(r["inner_mean"], r["inner_sd"]) else "—",
        "Final training loss": f"{r['final_loss']:.3f}",
    } for r in rows])


def nested_display(rows: list[dict]):
    """:func:`nested_choice`'s rows with the variants named in words."""
    import pandas as pd

    out = []
    for r in rows:
        row = {"Outer fold": r["outer fold"], "Chosen": variant_label(r["chosen"]) if r["chosen"] in VARIANT_LABELS
               else r["chosen"]}
        for key, value in r.items():
            if key.endswith(" inner AUROC"):
                row[f"{variant_label(key[:-len(' inner AUROC')])}: inner AUROC"] = (
                    f"{value:.3f}" if np.isfinite(value) else "— (one class)")
        out.append(row)
    return pd.DataFrame(out)


def saliency_display(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([{
        "Level": level_words(r["level"]), "Patches": r["patches"],
        "Uniform map": f"{r['uniform_baseline']:.2f}", "Centre-biased map": f"{r['centre_baseline']:.2f}",
        "Grad-CAM energy inside": value_interval(r["gradcam_energy"], r["gradcam_energy_low"], r["gradcam_energy_high"], 2),
        "Grad-CAM pointing game": value_interval(r["gradcam_hit"], r["gradcam_hit_low"], r["gradcam_hit_high"], 2),
        "Gradient energy inside": value_interval(r["gradient_energy"], r["gradient_energy_low"], r["gradient_energy_high"], 2),
        "Gradient pointing game": value_interval(r["gradient_hit"], r["gradient_hit_low"], r["gradient_hit_high"], 2),
    } for r in rows])


def sliding_display(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([{
        "Level": level_words(r["level"]), "Films": r["films"],
        "Peak in the circle (share of films)": value_interval(r["hit_rate"], r["hit_low"], r["hit_high"], 2),
        "Chance": f"{r['chance']:.2f}" if np.isfinite(r["chance"]) else "—",
    } for r in rows])


def secondary_display(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([{
        "Task": TASK_LABELS.get(r["task"], r["task"]), "Model": model_label(r["model"]),
        "Pooled AUROC": value_interval(r["pooled_auroc"], r["low"], r["high"]),
        "Per fold (mean ± SD)": mean_sd_words(r["auroc"], r["auroc_sd"]) if _finite(r["auroc"], r["auroc_sd"]) else "—",
    } for r in rows])


def contralateral_display(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([{
        "Model": model_label(r["model"]), "Negatives": r["scheme"], "Patches": f"{r['patches']:,}",
        "Pooled AUROC": value_interval(r["pooled_auroc"], r["auroc_low"], r["auroc_high"]),
    } for r in rows])


def robustness_display(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([{
        "Trained at": level_words(r["train_level"]), "Tested at": level_words(r["test_level"]),
        "AUROC, trained there": f"{r['auroc_trained_here']:.3f}",
        "AUROC, trained on originals": f"{r['auroc_trained_original']:.3f}",
        "Difference": f"{r['delta']:+.3f} ({interval_words(r['delta_low'], r['delta_high'])})",
    } for r in rows], columns=["Trained at", "Tested at", "AUROC, trained there", "AUROC, trained on originals",
                               "Difference"])


def health_display(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([{
        "Model": model_label(r["model"]), "Trained at": level_words(r["trained at"]), "Seed": r["repeat"] + 1,
        "Fold": r["fold"], "Attempts": r["attempts"], "Training AUROC, first try": f"{r['first train AUROC']:.3f}",
        "Training AUROC, kept": f"{r['train AUROC']:.3f}", "Learned": "yes" if r["learned"] else "no",
        "Why not": r["why not"] or "—",
    } for r in rows], columns=["Model", "Trained at", "Seed", "Fold", "Attempts", "Training AUROC, first try",
                               "Training AUROC, kept", "Learned", "Why not"])


MATCHING_COLUMNS = {"kind": "Patch kind", "patches": "Patches", "intensity_mean": "Mean grey level",
                    "intensity_sd": "SD of grey level", "edge_mean": "Distance from the edge (px)",
                    "edge_sd": "SD of distance"}
LEFT_OUT_COLUMNS = {"film": "Film", "severity": "Lesion", "reason": "Why left out"}


FILM_PX = MIAS_SIZE  # a mini-MIAS film's side in pixels
CONSTANT_LOSS = float(np.log(2))  # the class-weighted cross-entropy of a constant output


def variants_words(names, sep: str = " and ") -> str:
    """Variants in words: "BatchNorm + weight decay and BatchNorm + weight decay + cosine rate"; a name
    followed by a note (nested selection's "bn_wd (kept: ...)") keeps its note."""
    def words(name: str) -> str:
        head, _, note = name.partition(" ")
        return f"{variant_label(head)} {note}".strip() if head in VARIANT_LABELS else name

    shown = [words(n) for n in names]
    return listing(shown) if sep == " and " else sep.join(shown)


def resnet_wording(row: dict | None, epochs: int) -> str:
    """ResNet18 on originals in words, or that this profile does not train it."""
    if row is None:
        return "not run in this profile"
    return f"{value_interval(row['pooled_auroc'], row['auroc_low'], row['auroc_high'])} after {count(epochs, 'epoch')}"


def shortcut_wording(row: dict) -> str:
    """What the brightness shortcut's interval says of the matching: chance inside it, or a cue left."""
    if row["auroc_low"] > 0.5:
        return "its interval lies above chance, so brightness still tells the kinds of patch apart after the matching"
    if row["auroc_high"] < 0.5:
        return "its interval lies below chance, so the matching overshoots: negatives are brighter than lesions"
    return "its interval includes chance, so the matching leaves brightness little to say"


def example_level(ratios: list[dict]) -> dict:
    """The first compressed level at or beyond 1,000:1 (else the highest), to say what a ratio leaves of a film."""
    compressed = [r for r in ratios if sbp.ratio_of(r["level"])]
    r = next((r for r in compressed if r["target_ratio"] >= 1000), compressed[-1])
    return {"words": level_words(r["level"]), "bytes_per_film": r["bytes_per_film"]}


def secondary_wording(rows: list[dict]) -> str:
    """Which secondary task is harder for the texture features, from their intervals: apart, or not shown."""
    by = {r["task"]: r for r in rows if r["model"] == "features"}
    lesion, grade = by["abnormal"], by["malignant_vs_benign"]
    if grade["high"] < lesion["low"]:
        return ("Telling malignant from benign lesions is harder on this data than telling lesions from normal "
                "tissue: their intervals do not overlap.")
    if grade["low"] > lesion["high"]:
        return ("Telling malignant from benign lesions is easier on this data than telling lesions from normal "
                "tissue: their intervals do not overlap.")
    return "The two intervals overlap, so this data does not show which task is harder."


def contralateral_wording(rows: list[dict]) -> str:
    """Whether mirrored negatives open a brightness cue: the shortcut's contralateral interval against its
    matched value."""
    by = {(r["scheme"], r["model"]): r for r in rows}
    contra, matched = by[("contralateral", "shortcut")], by[("matched", "shortcut")]
    if contra["auroc_low"] > matched["pooled_auroc"]:
        return ("The shortcut rises above its matched value: the mirrored position hands the models a brightness "
                "cue that the matching removes. That is why the matched scheme carries the headline.")
    if contra["auroc_high"] < matched["pooled_auroc"]:
        return "The shortcut falls below its matched value, so the mirrored position opens no brightness cue here."
    return ("The shortcut's interval includes its matched value, so this run shows no brightness cue opened by the "
            "mirrored position.")


def health_words(summary: dict) -> str:
    """The fold models' health as sentences, from :func:`health_summary`'s counts."""
    text = f"Of the {count(summary['folds'], 'fold model')} of this run, {summary['first_try']:,} learned at the first try."
    if summary["retrained"]:
        text += (f" {count(summary['retrained'], 'fold model')} {'was' if summary['retrained'] == 1 else 'were'} "
                 f"retrained from the next seed, and {summary['recovered']:,} of them then learned.")
    else:
        text += " No fold model was retrained."
    if summary["unhealthy"]:
        one = summary["unhealthy"] == 1
        text += (f" {count(summary['unhealthy'], 'fold model')} never learned. The table names "
                 f"{'it' if one else 'them'}; {'it counts' if one else 'they count'} in every number above.")
    else:
        text += " Every fold model learned."
    return text


WRAP = [{"selector": "th", "props": [("white-space", "normal"), ("text-align", "left"), ("vertical-align", "bottom")]},
        {"selector": "td", "props": [("white-space", "normal"), ("text-align", "left"), ("vertical-align", "top")]}]


def table_view(data, columns: dict | None = None, precision: int = 3):
    """A table as the page shows it, for :func:`hdmann.book.report.table`: ``columns`` (``{column:
    header}``) picks and names the columns, and cells wrap inside the text column, so a table fits a
    1,280 px window instead of scrolling (the styles are scoped to this table). Publish the full frame
    with ``csv=``."""
    from pandas.io.formats.style import Styler

    if isinstance(data, Styler):
        styler = data
    else:
        shown = data if columns is None else data[list(columns)].rename(columns=columns)
        styler = shown.style.format(precision=precision, thousands=",", na_rep="—").hide(axis="index")
    return styler.set_table_styles(WRAP, overwrite=False)
CHOICE_COLUMNS = {"setting": "Setting", "value": "This run", "why": "Why we chose it"}


def choices_view(choices):
    """:func:`hdmann.book.report.choices` as shown: headers in words, true/false settings as yes/no."""
    shown = choices.assign(value=choices["value"].replace({"True": "yes", "False": "no"}))
    return table_view(shown, CHOICE_COLUMNS)


def selection_plan_words(cfg: StudyBConfig) -> str:
    """Which CNN variants this profile compares, as a sentence."""
    from hdmann.studies.study_b.config import PATCH_CNN_VARIANTS

    if set(cfg.patch_select_variants) >= set(PATCH_CNN_VARIANTS):
        return f"This profile runs all {len(PATCH_CNN_VARIANTS)} variants."
    return f"This profile runs {variants_words(cfg.patch_select_variants)}; the paper profile runs all of them."
