"""Study B on lesion-centred patches: cached stages from the patch plan to predictions and maps.

Order of operations, as an archive would see it: each whole 1024x1024 film is JPEG 2000 compressed,
decoded, and only then cut at the plan's coordinates. Stages (each a cache entry keyed by the config
fields it reads and the code it runs):

* :func:`plan` - which patches (lesions, matched or contralateral negatives), and lesions left out;
* :func:`patch_set` - the patches of one compression level, with per-film ratio, bytes, bpp and
  PSNR inside the breast, plus the few whole films the sliding-window maps need;
* :func:`run` - one architecture trained at one level, one repeat of the patient-grouped 5-fold
  cross-validation; every fold model scores its held-out patches at every level;
* :func:`feature_scores`, :func:`shortcut_scores` - the feature baseline and the brightness shortcut;
* :func:`patch_saliency`, :func:`sliding_maps` - Grad-CAM / input gradients, and whole-film maps.

Tables, intervals and verdicts live in :mod:`hdmann.studies.study_b.report`.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from hdmann.engine import cache, codecs, data, parallel, quality
from hdmann.engine.stages import stage
from hdmann.methods import features, models, patches, seeds, train
from hdmann.studies.study_b import control as study_b
from hdmann.studies.study_b.control import level_name, ORIGINAL, ratio_of  # one level naming for both designs
from hdmann.studies.study_b.config import PATCH_CNN_VARIANTS, StudyBConfig

ARCHITECTURES = ("cnn", "resnet18")
TASKS = ("malignant", "abnormal", "malignant_vs_benign")
PLAN_FIELDS = ("max_films", "fold_seed", "patches.size", "patches.negative_scheme", "patches.negatives_per_lesion",
               "patches.negative_stride", "patches.breast_threshold", "patches.max_normal_films", "patches.seed", "patches.sliding_films")
SET_FIELDS = PLAN_FIELDS + ("patches.shift", "codec")
TRAIN_FIELDS = SET_FIELDS + ("conv_filters", "dense_units", "dropout_rate", "patches.epochs", "patches.resnet_epochs",
                             "patches.batch_size", "patches.learning_rate", "patches.lr_schedule", "patches.standardise",
                             "n_folds", "train_seed", "patches.levels",
                             "resnet_weights", "patches.head", "patches.weight_decay", "patches.batchnorm",
                             "batchnorm_momentum", "patches.health_min_train_auroc", "patches.health_retries")


def levels(cfg: StudyBConfig) -> list[str]:
    return [ORIGINAL] + [level_name(r) for r in cfg.patches.levels]


def _on_films(fields, lesions: bool = False):
    """A stage's ``params``: ``fields`` of the config and the fingerprint of the films it may read,
    with ``images.csv`` (and ``labels.csv``, for a stage that reads the lesion circles)."""
    return lambda cfg, data_root: study_b.film_params(cfg, fields, study_b.films(cfg, data_root), lesions)


# ------------------------------------------------------------------------------------------------
# which runs exist (the chapter's graph; the report reads the same lists)
# ------------------------------------------------------------------------------------------------
def repeats(cfg: StudyBConfig, model: str, train_level: str) -> int:
    if model == "cnn":
        return cfg.patches.repeats if train_level == ORIGINAL else cfg.patches.level_repeats
    if model == "resnet18":
        return cfg.patches.resnet_repeats
    return cfg.patches.repeats


def train_levels(cfg: StudyBConfig, model: str) -> list[str]:
    """Levels at which ``model`` has its own training run (the shortcut needs none: every level)."""
    if model == "cnn":
        return [ORIGINAL] + [level_name(r) for r in cfg.patches.train_levels]
    if model == "resnet18":
        if not cfg.patches.resnet_repeats:
            return []
        return [ORIGINAL] + [level_name(r) for r in cfg.patches.resnet_levels]
    return levels(cfg)


def contralateral_config(cfg: StudyBConfig) -> StudyBConfig:
    """The sensitivity check's config: negatives at the mirrored position on the patient's other
    film, originals only (no compressed level, no own training level)."""
    return cfg.replace(patches=cfg.patches.replace(negative_scheme="contralateral", levels=(), train_levels=(),
                                                   resnet_levels=()))


def stage_calls(cfg: StudyBConfig) -> list:
    """Every stage of the chapter but its maps (:func:`hdmann.studies.study_b.maps.stage_calls`); the
    study's ``__init__`` declares both to the graph."""
    contra = contralateral_config(cfg)
    calls = [patch_set.on(cfg, ratio_of(lv)) for lv in levels(cfg)]
    calls += [run.on(cfg, arch, ratio_of(lv), r, "malignant")
              for arch in ARCHITECTURES for lv in train_levels(cfg, arch) for r in range(repeats(cfg, arch, lv))]
    calls += [feature_matrix.on(cfg, ratio_of(lv)) for lv in levels(cfg)] + [feature_matrix.on(contra, None)]
    return calls + [selection.on(cfg, variant) for variant in cfg.patches.select_variants]


# ------------------------------------------------------------------------------------------------
# the plan
# ------------------------------------------------------------------------------------------------
def _film_choice(cfg: StudyBConfig, mias: data.MiasSet) -> np.ndarray:
    """Films that may give patches: every abnormal film, and normal films (all, or ``max_normal_films``
    drawn by patient with a seed). Fewer normal films keep the quick profile's compression cheap."""
    abnormal = np.flatnonzero(mias.severity != "normal")
    normal = np.flatnonzero(mias.severity == "normal")
    if cfg.patches.max_normal_films is not None and cfg.patches.max_normal_films < len(normal):
        normal = np.sort(np.random.default_rng(cfg.patches.seed).permutation(normal)[:cfg.patches.max_normal_films])
    return np.sort(np.concatenate([abnormal, normal]))


@stage("study_b_patches/plan", params=_on_films(PLAN_FIELDS, lesions=True))
def plan(cfg: StudyBConfig, data_root=None) -> dict:
    """The patch plan (arrays ``plan_*``), the lesions left out, and the films drawn for the
    sliding-window maps (malignant films with a located malignant lesion, seeded)."""
    mias = study_b.films(cfg, data_root)
    chosen = _film_choice(cfg, mias)
    films = {int(i): data.read_image(mias.path(mias.names[i]), "L") for i in chosen}
    if cfg.patches.negative_scheme == "contralateral":  # the other film of each lesion's patient is needed too
        for i in list(films):
            j = patches.other_film(mias, i)
            if j is not None and j not in films:
                films[j] = data.read_image(mias.path(mias.names[j]), "L")
    p, odd = patches.plan_patches(mias, films, size=cfg.patches.size, scheme=cfg.patches.negative_scheme,
                                  negatives_per_lesion=cfg.patches.negatives_per_lesion, stride=cfg.patches.negative_stride,
                                  seed=cfg.patches.seed, threshold=cfg.patches.breast_threshold)
    located = sorted({int(f) for f, k in zip(p.film, p.kind) if k == "malignant"})
    sliding = np.random.default_rng(cfg.patches.seed).permutation(located)[:cfg.patches.sliding_films]
    return {**p.to_arrays(), "odd": odd, "sliding_films": np.sort(sliding).astype(np.int64)}


def patch_plan(cfg: StudyBConfig, data_root=None) -> patches.PatchPlan:
    return patches.PatchPlan.from_arrays(plan(cfg, data_root))


# ------------------------------------------------------------------------------------------------
# compressed patch sets
# ------------------------------------------------------------------------------------------------
def _film_job(job):
    """Worker: compress one whole film, decode it, measure it, cut its patches (with shift margin)."""
    path, codec, ratio, centres, cut_size, threshold, keep_film = job
    film = data.read_image(Path(path), "L")
    mask = patches.breast_mask(film, threshold)
    if ratio is None:
        decoded, encoded = film, film.nbytes
    else:
        blob = codecs.encode(film, codec, ratio)
        decoded, encoded = codecs.decode(blob, "L"), len(blob)
    err = (film[mask].astype(np.float64) - decoded[mask].astype(np.float64))
    mse = float(np.mean(err**2)) if err.size else float("nan")
    psnr = float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
    cuts = np.stack([patches.cut(decoded, x, y, cut_size) for x, y in centres]) if len(centres) else None
    return cuts, (encoded, film.nbytes / encoded, 8.0 * encoded / film.size, psnr,
                  quality.psnr(film, decoded)), (decoded if keep_film else None)


def _map_films(jobs, workers: int):
    return parallel.fork_map(_film_job, jobs, workers if len(jobs) >= 8 else 1)


@stage("study_b_patches/set", params=_on_films(SET_FIELDS), reads=lambda cfg, ratio: [plan.on(cfg)])
def patch_set(cfg: StudyBConfig, ratio: int | None, data_root=None) -> dict:
    """Patches of one level, cut (``patch_size + 2 * patch_shift`` wide, so training can shift them)
    from the decoded whole film; per-film ``encoded_bytes``, ``ratio``, ``bpp``, ``psnr_breast``,
    ``psnr_film``; and the decoded ``sliding`` films."""
    mias = study_b.films(cfg, data_root)
    p = patch_plan(cfg, data_root)
    sliding = set(plan(cfg, data_root)["sliding_films"].tolist())
    film_ids = np.unique(np.concatenate([p.film, np.array(sorted(sliding), dtype=np.int64)]))
    cut_size = cfg.patches.size + 2 * cfg.patches.shift
    jobs = [(str(mias.path(mias.names[i])), cfg.codec, ratio,
             [(p.x[k], p.y[k]) for k in np.flatnonzero(p.film == i)], cut_size, cfg.patches.breast_threshold,
             int(i) in sliding) for i in film_ids]
    results = _map_films(jobs, cfg.workers)
    out = np.zeros((len(p), cut_size, cut_size), np.uint8)
    for i, (cuts, _, _) in zip(film_ids, results):
        if cuts is not None:
            out[np.flatnonzero(p.film == i)] = cuts
    stats = np.array([r[1] for r in results], dtype=np.float64)
    kept = [r[2] for i, r in zip(film_ids, results) if int(i) in sliding]
    return {"patches": out, "film_ids": film_ids, "encoded_bytes": stats[:, 0], "ratio": stats[:, 1],
            "bpp": stats[:, 2], "psnr_breast": stats[:, 3], "psnr_film": stats[:, 4],
            "sliding": np.stack(kept) if kept else np.zeros((0, 1024, 1024), np.uint8),
            "sliding_ids": np.array(sorted(sliding), dtype=np.int64)}


def model_input(patches_: np.ndarray, standardise: bool) -> np.ndarray:
    """(N, S, S) patches -> (N, S, S, 1) float32 model input. With ``standardise``, each patch is
    z-scored and mapped back onto the 8-bit scale the models' Rescaling layer expects (mean 128,
    SD 48): the network cannot use a patch's overall brightness or contrast, only its pattern."""
    x = np.asarray(patches_, dtype=np.float32)
    if standardise:
        mean = x.mean(axis=(-2, -1), keepdims=True)
        sd = x.std(axis=(-2, -1), keepdims=True)
        x = (x - mean) / (sd + 1.0) * 48.0 + 128.0
    return x[..., None]


def centre(cuts: np.ndarray, size: int) -> np.ndarray:
    """The centred ``size`` x ``size`` view of patches cut with a shift margin (what a test sees)."""
    m = (cuts.shape[-1] - size) // 2
    return cuts[..., m:m + size, m:m + size]


# ------------------------------------------------------------------------------------------------
# folds
# ------------------------------------------------------------------------------------------------
def folds(cfg: StudyBConfig, p: patches.PatchPlan, repeat: int) -> np.ndarray:
    """Fold of each patch: stratified by malignancy, grouped by patient (both films, all patches of
    a patient in one fold), reshuffled for every repeat. All tasks share these folds."""
    y, _ = p.labels("malignant")
    splitter = StratifiedGroupKFold(n_splits=cfg.n_folds, shuffle=True, random_state=seeds.derive(cfg.fold_seed, "fold_split", repeat=repeat))
    fold = np.full(len(p), -1)
    with warnings.catch_warnings():  # smoke's few malignant patients: a fold may lack one, as it says
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for k, (_, test) in enumerate(splitter.split(np.zeros(len(p)), y, p.patient)):
            fold[test] = k
    return fold


# ------------------------------------------------------------------------------------------------
# training (the loop itself is hdmann.methods.train's)
# ------------------------------------------------------------------------------------------------
def _builder(cfg: StudyBConfig, architecture: str):
    if architecture == "cnn":
        return lambda: models.mammo_cnn(cfg, cfg.patches.head, cfg.patches.batchnorm, size=cfg.patches.size)
    if architecture == "resnet18":
        return lambda: models.resnet18(cfg, cfg.resnet_weights, size=cfg.patches.size)
    raise ValueError(f"architecture={architecture!r}: use one of {ARCHITECTURES}")


def _optimizer(cfg: StudyBConfig, epochs: int, train_sizes):
    """A factory of the patches' optimizer. Under the cosine schedule the rate reaches 0 after the
    budget of the smallest training set of the run's folds: larger ones take their last few steps at
    rate 0, which only moves the BatchNorm statistics."""
    steps = epochs * min(train.steps_per_epoch(n, cfg.patches.batch_size) for n in train_sizes)
    return lambda: train.adam(cfg.patches.learning_rate, cfg.patches.weight_decay, cfg.patches.lr_schedule, steps)


def _shifted(cfg: StudyBConfig, cuts: np.ndarray, y: np.ndarray):
    standardise = cfg.patches.standardise
    return train.ShiftedSet(cuts, y, cfg.patches.size, cfg.patches.batch_size,
                            lambda x: model_input(x, standardise))


def _check_run(cfg: StudyBConfig, architecture: str, train_ratio: int | None, task: str) -> None:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture={architecture!r}: use one of {ARCHITECTURES}")
    if task not in TASKS:
        raise ValueError(f"task={task!r}: use one of {TASKS}")
    if train_ratio is not None and train_ratio not in cfg.patches.levels:
        raise ValueError(f"train_ratio={train_ratio} is not among patch_levels {cfg.patches.levels}")


def _run_reads(cfg: StudyBConfig, architecture: str, train_ratio: int | None, repeat: int, task: str) -> list:
    _check_run(cfg, architecture, train_ratio, task)  # a bad request fails when the graph is planned
    tested = [ratio_of(lv) for lv in levels(cfg)]
    return [plan.on(cfg)] + [patch_set.on(cfg, r) for r in tested + ([] if train_ratio in tested else [train_ratio])]


@stage("study_b_patches/run", params=_on_films(TRAIN_FIELDS), reads=_run_reads)
def run(cfg: StudyBConfig, architecture: str = "cnn", train_ratio: int | None = None, repeat: int = 0,
        task: str = "malignant", data_root=None, *, folder: Path) -> None:
    """One repeat of the 5-fold cross-validation of one architecture at one training level, for a
    fixed epoch budget (calling it returns the entry's folder).

    The entry holds each fold's model variables (``fold<k>.npz``) and ``scores.npz``: every patch's
    held-out score at every level (``NaN`` for patches outside the task); its values, per fold, the
    training losses and the AUROC on the fold's own training patches seen as a test patch is.

    A fold model that did not learn (:func:`hdmann.methods.train.fold_health`: a collapsed or constant
    output) is retrained from its next retry's seed, up to ``patches.health_retries`` times
    (:func:`hdmann.methods.train.fit_healthy`); every
    attempt is recorded per fold, and one that never learned is kept and marked ``healthy: false``."""
    _check_run(cfg, architecture, train_ratio, task)
    p = patch_plan(cfg, data_root)
    y_all, rows = p.labels(task)
    y = np.full(len(p), -1, np.int32)
    y[rows] = y_all
    fold = folds(cfg, p, repeat)
    train_cuts = patch_set(cfg, train_ratio, data_root)["patches"]
    tests = {lv: centre(patch_set(cfg, ratio_of(lv), data_root)["patches"], cfg.patches.size)
             for lv in levels(cfg)}
    epochs = cfg.patches.resnet_epochs if architecture == "resnet18" else cfg.patches.epochs
    sizes = [int(np.sum((fold != k) & (y >= 0))) for k in range(cfg.n_folds)]
    starts = train.Starts(_builder(cfg, architecture), _optimizer(cfg, epochs, sizes),
                          lambda retry: seeds.derive(cfg.train_seed, "init", repeat=repeat, retry=retry))
    scores = {lv: np.full(len(p), np.nan, np.float32) for lv in tests}
    info = []
    for k in range(cfg.n_folds):
        fit_idx = np.flatnonzero((fold != k) & (y >= 0))
        test_idx = np.flatnonzero((fold == k) & (y >= 0))
        model, record, attempts = train.fit_healthy(
            starts, _shifted(cfg, train_cuts[fit_idx], y[fit_idx]), epochs=epochs,
            seeds=lambda retry: seeds.derive(cfg.train_seed, "train", fold=k, repeat=repeat, retry=retry),
            retries=cfg.patches.health_retries, min_train_auroc=cfg.patches.health_min_train_auroc,
            label=f"patches {architecture} trained at {train_ratio or 'original'}, repeat {repeat}, fold {k + 1}")
        np.savez(folder / f"fold{k}.npz", *model.get_weights())
        for lv, x in tests.items():
            scores[lv][test_idx] = train.predict(model, model_input(x[test_idx], cfg.patches.standardise), 64).ravel()
        info.append({"fold": k, "n_train": int(len(fit_idx)), "n_test": int(len(test_idx)), **record,
                     "attempts": attempts})
    np.savez(folder / "scores.npz", **scores, labels=y, fold=fold)
    (folder / "meta.json").write_text(json.dumps({"values": {"folds": info}}))


def scores(cfg: StudyBConfig, architecture: str = "cnn", train_ratio: int | None = None, repeat: int = 0,
           task: str = "malignant", data_root=None) -> dict:
    with np.load(run(cfg, architecture, train_ratio, repeat, task, data_root) / "scores.npz") as npz:
        return {k: npz[k] for k in npz.files}


def run_info(cfg: StudyBConfig, architecture: str = "cnn", train_ratio: int | None = None, repeat: int = 0,
             task: str = "malignant", data_root=None) -> list[dict]:
    return cache.load_entry(run(cfg, architecture, train_ratio, repeat, task, data_root))["folds"]


def fold_model(cfg: StudyBConfig, architecture: str, train_ratio: int | None, repeat: int, fold: int,
               data_root=None):
    model = _builder(cfg, architecture)()
    with np.load(run(cfg, architecture, train_ratio, repeat, "malignant", data_root) / f"fold{fold}.npz") as stored:
        model.set_weights([stored[f"arr_{i}"] for i in range(len(stored.files))])
    return model


def inner_split(cfg: StudyBConfig, p: patches.PatchPlan, fold: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Outer fold ``k``'s training patches split once more, by patient and stratified, into inner
    training and inner validation rows (one of ``n_folds`` inner folds is held out). The outer test
    fold is never among them."""
    y, _ = p.labels("malignant")
    outer = np.flatnonzero(fold != k)
    splitter = StratifiedGroupKFold(n_splits=cfg.n_folds, shuffle=True, random_state=seeds.derive(cfg.fold_seed, "inner_split", fold=k))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        fit, val = next(splitter.split(np.zeros(len(outer)), y[outer], p.patient[outer]))
    return outer[fit], outer[val]


def variant_config(cfg: StudyBConfig, variant: str) -> StudyBConfig:
    if variant not in PATCH_CNN_VARIANTS:
        raise ValueError(f"variant={variant!r}: use one of {sorted(PATCH_CNN_VARIANTS)}")
    return cfg.replace(patches=cfg.patches.replace(**PATCH_CNN_VARIANTS[variant]))


@stage("study_b_patches/selection",
       params=lambda cfg, data_root, variant: _on_films(TRAIN_FIELDS)(variant_config(cfg, variant), data_root),
       reads=lambda cfg, variant: [patch_set.on(variant_config(cfg, variant), None)])
def selection(cfg: StudyBConfig, variant: str, data_root=None) -> dict:
    """One CNN variant of :data:`hdmann.studies.study_b.config.PATCH_CNN_VARIANTS` on the inner splits of repeat 0
    (malignant vs not, originals, the profile's epoch budget): per outer fold, trained on the inner
    training rows and scored on the inner validation rows. Only training patches of the outer folds
    are used, so choosing a variant here never looks at a test fold."""
    vcfg = variant_config(cfg, variant)
    p = patch_plan(vcfg, data_root)
    y, _ = p.labels("malignant")
    y = y.astype(np.int32)
    fold = folds(vcfg, p, 0)
    cuts = patch_set(vcfg, None, data_root)["patches"]
    splits = [inner_split(vcfg, p, fold, k) for k in range(vcfg.n_folds)]
    epochs = vcfg.patches.epochs
    starts = train.Starts(_builder(vcfg, "cnn"), _optimizer(vcfg, epochs, [len(f) for f, _ in splits]),
                          lambda retry: seeds.derive(vcfg.train_seed, "selection_init", retry=retry))
    scores, labels, outer, losses, patient = [], [], [], [], []
    for k, (fit_idx, val_idx) in enumerate(splits):
        model = starts.reset()
        data = _shifted(vcfg, cuts[fit_idx], y[fit_idx])
        seed = seeds.derive(vcfg.train_seed, "selection", fold=k)
        record = train.fit_fixed(model, data.batches(seed), epochs=epochs, seed=seed,
                                 class_weight=train.class_weights(data.y),
                                 label=f"patches selection {variant} fold {k + 1}")
        x = model_input(centre(cuts[val_idx], vcfg.patches.size), vcfg.patches.standardise)
        scores.append(train.predict(model, x, 64).ravel())
        labels.append(y[val_idx])
        outer.append(np.full(len(val_idx), k))
        patient.append(p.patient[val_idx])
        losses.append(record["loss"][-1])
    return {"score": np.concatenate(scores), "labels": np.concatenate(labels), "outer_fold": np.concatenate(outer),
            "patient": np.concatenate(patient), "final_loss": np.array(losses),
            "params": np.int64(starts.count_params())}


# ------------------------------------------------------------------------------------------------
# baselines
# ------------------------------------------------------------------------------------------------
@stage("study_b_patches/features", reads=lambda cfg, ratio: [patch_set.on(cfg, ratio)])
def feature_matrix(cfg: StudyBConfig, ratio: int | None, data_root=None) -> dict:
    """Texture features of every patch of one level (centred view), for the feature baseline."""
    return {"features": features.patch_features(centre(patch_set(cfg, ratio, data_root)["patches"], cfg.patches.size))}


def patch_features(cfg: StudyBConfig, ratio: int | None, data_root=None) -> np.ndarray:
    return feature_matrix(cfg, ratio, data_root)["features"]


def feature_scores(cfg: StudyBConfig, train_ratio: int | None, repeat: int = 0, task: str = "malignant",
                   data_root=None) -> dict:
    """The logistic-regression baseline trained at ``train_ratio`` on the same folds, scored at every level."""
    p = patch_plan(cfg, data_root)
    y_all, rows = p.labels(task)
    y = np.full(len(p), -1, np.int32)
    y[rows] = y_all
    fold = folds(cfg, p, repeat)
    x_train = patch_features(cfg, train_ratio, data_root)
    tests = {lv: patch_features(cfg, ratio_of(lv), data_root) for lv in levels(cfg)}
    out = {lv: np.full(len(p), np.nan) for lv in tests}
    for k in range(cfg.n_folds):
        fit_idx = np.flatnonzero((fold != k) & (y >= 0))
        test_idx = np.flatnonzero((fold == k) & (y >= 0))
        if not len(test_idx):
            continue
        model = features.fit(x_train[fit_idx], y[fit_idx], cfg.patches.feature_c,
                              seeds.derive(cfg.train_seed, "features", fold=k, repeat=repeat))
        for lv, x in tests.items():
            out[lv][test_idx] = model.predict_proba(x[test_idx])[:, 1]
    return {**out, "labels": y, "fold": fold}


def shortcut_scores(cfg: StudyBConfig, repeat: int = 0, task: str = "malignant", data_root=None) -> dict:
    """The brightness shortcut: a patch's score is its mean grey level at each level (no training)."""
    p = patch_plan(cfg, data_root)
    y_all, rows = p.labels(task)
    y = np.full(len(p), -1, np.int32)
    y[rows] = y_all
    out = {lv: np.where(y >= 0, patch_features(cfg, ratio_of(lv), data_root)[:, 0], np.nan) for lv in levels(cfg)}
    return {**out, "labels": y, "fold": folds(cfg, p, repeat)}
