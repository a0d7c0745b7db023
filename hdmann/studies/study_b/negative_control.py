"""Study B's whole-film negative control: the CNN on originals beside permuted labels, mirrored films,
untrained networks and one-feature shortcuts (side, brightness), each scored as the run is, so a
model at chance is shown to be at chance by what a shortcut can reach."""
from __future__ import annotations

import numpy as np

from hdmann.engine import data
from hdmann.engine.stages import stage
from hdmann.methods import bootstrap, evaluation, seeds, train
from hdmann.studies.study_b.config import study_b_control_config, StudyBConfig
from hdmann.studies.study_b.control import (_build, compressed_films, film_params, films, folds, ORIGINAL, run,
                                            RUN_FIELDS, scores, sides, training_labels)

BREAST_LEVEL = 30  # grey level above which a pixel of the resized film counts as breast (background is ~0-20)


def control_plan(cfg: StudyBConfig) -> dict:
    """How much of the control the profile runs (:class:`hdmann.studies.study_b.config.StudyBControlConfig`);
    every value is shown in the chapter."""
    plan = study_b_control_config(cfg.profile).to_dict()
    plan.pop("profile")
    return plan


def control_config(cfg: StudyBConfig) -> StudyBConfig:
    """The whole-film CNN on originals only: a model at chance has nothing for compression to take away."""
    return cfg.replace(films=cfg.films.replace(compression_ratios=(), matrix_ratios=(), resnet_ratios=(),
                                               saliency_ratios=()))


def control_plan_runs(cfg: StudyBConfig) -> list[tuple[str, int, object]]:
    """(kind, seed, stage call) of each of the control's CNN runs: real labels (one per training
    seed), permuted labels, and real labels with every breast turned the same way. A training run's
    seed is its number (1, 2, ...): the chapter names it so, and its weights' seed is derived from it."""
    plan, base = control_plan(cfg), control_config(cfg)
    out = []
    for i in range(plan["seeds"]):
        c = base.replace(train_seed=seeds.derive(cfg.train_seed, "train", repeat=i))
        out.append(("real labels", i + 1, run.on(c, "cnn", None)))
    for i in range(plan["permutations"]):
        out.append(("permuted labels", i, run.on(base, "cnn", None, label_seed=i)))
    if plan["aligned"]:
        for i in range(plan["seeds"]):
            c = base.replace(train_seed=seeds.derive(cfg.train_seed, "train", repeat=i))
            out.append(("sides aligned", i + 1, run.on(c, "cnn", None, align_sides=True)))
    return out


def control_stages(cfg: StudyBConfig) -> list:
    """Every stage the control chapter reads."""
    return ([c for _, _, c in control_plan_runs(cfg)] + [untrained_outputs.on(cfg, control_plan(cfg)["untrained"])]
            + [compressed_films.on(cfg, None)])


def control_runs(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """The control's CNN runs (:func:`control_plan_runs`), each with its held-out scores."""
    out = []
    for kind, seed, call in control_plan_runs(cfg):
        out.append({"kind": kind, "seed": seed, **scores(call.cfg, data_root=data_root, **call.kwargs)})
    return out


def pair_auroc(y, score) -> float:
    """AUROC as the share of (positive, negative) pairs ranked right, ties counting half; NaN
    without both classes. Exact, and fast on the few dozen films of a fold."""
    y, score = np.asarray(y).astype(bool), np.asarray(score, dtype=np.float64)
    pos, neg = score[y], score[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def fold_auroc(y, score, fold) -> np.ndarray:
    return np.array([pair_auroc(y[fold == k], score[fold == k]) for k in np.unique(fold)])


def fold_auroc_ci(y, score, fold, patient, n_boot: int, seed: int, level: float = 0.95) -> tuple[float, float, float]:
    """Mean over folds of the per-fold AUROC, with a percentile bootstrap interval that resamples
    patients (both films together) inside each fold, separately for patients with and without a
    positive film so that every resample keeps both classes."""
    y, score, fold, patient = (np.asarray(a) for a in (y, score, fold, patient))
    rng = np.random.default_rng(seed)
    strata = []
    for k in np.unique(fold):
        members = {p: np.flatnonzero((patient == p) & (fold == k)) for p in np.unique(patient[fold == k])}
        strata.append([[members[p] for p in members if y[members[p]].any() == has] for has in (True, False)])
    values = np.empty(n_boot)
    for b in range(n_boot):
        per_fold = []
        for groups in strata:
            idx = np.concatenate([g[i] for g in groups if g for i in rng.integers(0, len(g), len(g))])
            per_fold.append(pair_auroc(y[idx], score[idx]))
        values[b] = np.nanmean(per_fold)
    low, high = bootstrap.interval(values, level)
    return float(np.nanmean(fold_auroc(y, score, fold))), low, high


def film_features(cfg: StudyBConfig, data_root=None) -> dict[str, np.ndarray]:
    """Whole-film properties a model can read without seeing a lesion, per film."""
    mias = films(cfg, data_root)
    px = compressed_films(cfg, None, data_root)["pixels"].astype(np.float32)
    return {"mean intensity": px.mean((1, 2)), "breast area": (px > BREAST_LEVEL).mean((1, 2)),
            "side (left)": sides(mias).astype(np.float64),
            "tissue density (F<G<D)": np.array([{"F": 0, "G": 1, "D": 2}.get(t, np.nan) for t in mias.tissue])}


def direction_scores(feature, y, fold) -> np.ndarray:
    """A one-feature classifier cross-validated like the CNN: the sign is learned on the training
    folds (higher or lower means malignant), then applied to the held-out fold."""
    feature, y, fold = np.asarray(feature, np.float64), np.asarray(y), np.asarray(fold)
    out = np.empty(len(feature))
    for k in np.unique(fold):
        train = fold != k
        out[fold == k] = feature[fold == k] * (1.0 if pair_auroc(y[train], feature[train]) >= 0.5 else -1.0)
    return out


def side_learner_over_splits(cfg: StudyBConfig, n_splits: int, data_root=None) -> np.ndarray:
    """The mean per-fold AUROC of the side-only classifier for ``n_splits`` fold seeds: how the
    laterality shortcut fares on average, not just on this book's split."""
    mias = films(cfg, data_root)
    side, y = sides(mias).astype(np.float64), mias.malignant
    out = []
    for s in range(n_splits):
        fold = folds(cfg.replace(fold_seed=s), mias)
        out.append(np.nanmean(fold_auroc(y, direction_scores(side, y, fold), fold)))
    return np.array(out)


@stage("study_b/untrained", params=lambda cfg, data_root: film_params(cfg, RUN_FIELDS, films(cfg, data_root)),
       reads=lambda cfg, n_inits: [compressed_films.on(cfg, None)])
def untrained_outputs(cfg: StudyBConfig, n_inits: int, data_root=None) -> dict:
    """Scores of the CNN straight from its random initialisation (seeds 0 to n_inits - 1), one row
    per seed (``scores``): the spread an untrained network shows on these films."""
    mias = films(cfg, data_root)
    x = compressed_films(cfg, None, data_root)["pixels"][..., None]
    model = _build(cfg, "cnn")()
    out = np.empty((n_inits, len(mias)), np.float32)
    for s in range(n_inits):
        with train.seeded(s):
            model.set_weights(_build(cfg, "cnn")().get_weights())  # one compiled predict for every seed
        out[s] = train.predict(model, x, cfg.films.batch_size).ravel()
    return {"scores": out}


def untrained_scores(cfg: StudyBConfig, n_inits: int, data_root=None) -> np.ndarray:
    """:func:`untrained_outputs`' scores, one row per seed."""
    return untrained_outputs(cfg, n_inits, data_root)["scores"]


def pixel_baseline(cfg: StudyBConfig, sizes=(16, 32, 64), data_root=None) -> list[dict]:
    """Logistic regression on the film's pixels at a few sizes, on the same folds (the data README's
    baseline, rerun here)."""
    from PIL import Image
    from sklearn.linear_model import LogisticRegression

    mias = films(cfg, data_root)
    y, fold = mias.malignant, folds(cfg, mias)
    px = compressed_films(cfg, None, data_root)["pixels"]
    rows = []
    for size in sizes:
        x = np.stack([np.asarray(Image.fromarray(p).resize((size, size), Image.Resampling.BOX)) for p in px])
        x = x.reshape(len(x), -1).astype(np.float64) / 255.0
        score = np.empty(len(y))
        for k in range(cfg.n_folds):
            train = fold != k
            model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(x[train], y[train])
            score[~train] = model.decision_function(x[~train])
        m, low, high = fold_auroc_ci(y, score, fold, mias.patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
        rows.append({"size": size, "auroc": m, "auroc_low": low, "auroc_high": high})
    return rows


def lesion_scale(cfg: StudyBConfig, data_root=None) -> dict:
    """How large the located malignant lesions are on the film and at the model's input."""
    mias = films(cfg, data_root)
    film = int(data.read_image(mias.path(mias.names[0]), "L").shape[0])
    malignant = [les for n in mias.names for les in mias.lesions[n] if les.severity == "malignant"]
    radii = np.array([les.radius for les in malignant])
    if len(radii) == 0:
        return {"lesions": 0, "film_size": film, "median_radius": float("nan"), "calcification_share": float("nan"), "median_radius_input": float("nan"),
                "median_area_share": float("nan")}
    return {"lesions": int(len(radii)), "median_radius": float(np.median(radii)),
            "calcification_share": float(np.mean([les.abnormality == "CALC" for les in malignant])),
            "film_size": film, "median_radius_input": float(np.median(radii) * cfg.films.input_size / film),
            "median_area_share": float(np.median(np.pi * radii ** 2 / film ** 2))}


def _residual(score: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """What is left of ``score`` after a least-squares line in ``feature``."""
    design = np.c_[feature, np.ones(len(feature))]
    return score - design @ np.linalg.lstsq(design, score, rcond=None)[0]


def run_summary(cfg: StudyBConfig, run: dict, features: dict, patient: np.ndarray) -> dict:
    """What one control run learned: its AUROC (per fold, pooled, patient-bootstrap interval), how
    varied its scores are, where early stopping stopped, and how far its scores follow the film's
    side and brightness."""
    y, fold, score = run["labels"], run["fold"], run[ORIGINAL]
    per = fold_auroc(y, score, fold)
    auroc, low, high = fold_auroc_ci(y, score, fold, patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
    ks = np.unique(fold)
    side_auroc = [pair_auroc(features["side (left)"][fold == k] > 0, score[fold == k]) for k in ks]
    return {"kind": run["kind"], "seed": run["seed"], "auroc": auroc, "auroc_sd": evaluation.mean_sd(per)[1],
            "auroc_low": low, "auroc_high": high, "auroc_folds": per.tolist(), "pooled_auroc": pair_auroc(y, score),
            "auprc": evaluation.mean_sd([evaluation.auprc(y[fold == k], score[fold == k]) for k in ks])[0],
            "prevalence": float(np.mean(y)),
            "distinct_scores_min": int(min(len(np.unique(score[fold == k])) for k in ks)),
            "test_films_min": int(min(np.sum(fold == k) for k in ks)),
            "score_spread": float(np.median([np.ptp(score[fold == k]) for k in ks])),
            "best_epochs": [int(f["best_epoch"]) for f in run["folds_info"]],
            "auroc_brightness_adjusted": float(np.nanmean([pair_auroc(y[fold == k], _residual(score[fold == k],
                                                             features["mean intensity"][fold == k])) for k in ks])),
            "side_auroc_folds": side_auroc,
            "side_separation": float(np.mean([max(a, 1 - a) for a in side_auroc])),
            "brightness_r_folds": [float(np.corrcoef(score[fold == k], features["mean intensity"][fold == k])[0, 1])
                                   for k in ks]}


def feature_baselines(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """Each whole-film property as a one-feature classifier (:func:`direction_scores`) on the
    book's folds, with its patient-bootstrap interval."""
    mias = films(cfg, data_root)
    y, fold = mias.malignant, folds(cfg, mias)
    rows = []
    for name, feature in film_features(cfg, data_root).items():
        score = direction_scores(feature, y, fold)
        m, low, high = fold_auroc_ci(y, score, fold, mias.patient, cfg.bootstrap_samples, cfg.bootstrap_seed)
        rows.append({"feature": name, "auroc": m, "auroc_low": low, "auroc_high": high,
                     "auroc_folds": fold_auroc(y, score, fold).tolist(),
                     "whole_set_auroc": pair_auroc(y, feature)})
    return rows


def feature_null(cfg: StudyBConfig, feature: str, n_permutations: int, data_root=None) -> np.ndarray:
    """The one-feature classifier's mean per-fold AUROC on ``n_permutations`` seeded permutations of
    the labels (folds fixed): the spread of this cross-validation when there is nothing to learn."""
    mias = films(cfg, data_root)
    fold, x = folds(cfg, mias), film_features(cfg, data_root)[feature]
    out = []
    for s in range(n_permutations):
        y = training_labels(mias, s)
        out.append(np.nanmean(fold_auroc(y, direction_scores(x, y, fold), fold)))
    return np.array(out)
