"""Study B end to end on mini-MIAS: patient-grouped folds, JPEG 2000 sets, CNN and ResNet18 runs.

Every trained model is tested at every compression level (prediction is cheap), so one run per
(architecture, training level) yields experiment (a) (train on originals), (b) (train and test at
the same ratio) and a row of the train x test matrix (c). Each run is one cache entry.

On whole films at CPU input sizes the CNN learns nothing, so the book keeps this pipeline as a
negative control (:mod:`hdmann.studies.study_b.negative_control`): the run on originals beside
permuted labels, mirrored films, untrained networks and one-feature shortcuts.
"""
from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from hdmann.engine import coding, data
from hdmann.engine.stages import stage
from hdmann.engine.config import value_at
from hdmann.methods import evaluation, models, seeds, train
from hdmann.studies.study_b.config import StudyBConfig

FILM_FIELDS = ("max_films", "fold_seed")
SET_FIELDS = FILM_FIELDS + ("films.input_size", "codec")
RUN_FIELDS = SET_FIELDS + ("conv_filters", "dense_units", "dropout_rate", "films.learning_rate", "films.batch_size",
                           "films.max_epochs", "films.patience", "films.inner_validation_fraction", "n_folds", "train_seed",
                           "films.compression_ratios", "resnet_weights", "films.resnet_max_epochs", "batchnorm_momentum")
ARCHITECTURES = ("cnn", "resnet18")
ORIGINAL = "original"


def level_name(ratio: int | None) -> str:
    return ORIGINAL if ratio is None else f"cr{ratio}"


def levels(cfg: StudyBConfig) -> list[str]:
    return [ORIGINAL] + [level_name(r) for r in cfg.films.compression_ratios]


def ratio_of(level: str) -> int | None:
    return None if level == ORIGINAL else int(level[2:])


def films(cfg: StudyBConfig, data_root=None) -> data.MiasSet:
    """All films, or for ``max_films`` a seeded subset of whole patients that keeps the malignant share."""
    mias = data.load_mias(data_root)
    if cfg.max_films is None or cfg.max_films >= len(mias):
        return mias
    rng = np.random.default_rng(cfg.fold_seed)
    patients = np.unique(mias.patient)
    has_malignant = np.array([mias.malignant[mias.patient == p].any() for p in patients])
    share = mias.malignant.mean()
    n_pat = max(2, cfg.max_films // 2)
    n_mal = max(cfg.n_folds, int(round(n_pat * share * 1.0)))
    chosen = np.concatenate([rng.permutation(patients[has_malignant])[:n_mal],
                             rng.permutation(patients[~has_malignant])[:max(0, n_pat - n_mal)]])
    return mias.subset(np.flatnonzero(np.isin(mias.patient, chosen)))


def film_params(cfg: StudyBConfig, fields, mias: data.MiasSet, lesions: bool = False) -> dict:
    """A Study B stage's ``params``: ``fields`` of the config (dotted for a section's) and the fingerprint of
    the films, with ``images.csv`` (and ``labels.csv``, for a stage that reads the lesion circles)."""
    return {"fields": {f: value_at(cfg, f) for f in fields},
            "films": data.fingerprint_files([mias.path(n) for n in mias.names] + mias.table_files(lesions))}


def folds(cfg: StudyBConfig, mias: data.MiasSet) -> np.ndarray:
    """Fold number of each film: stratified by malignancy, grouped by patient, seeded."""
    fold = np.full(len(mias), -1)
    splitter = StratifiedGroupKFold(n_splits=cfg.n_folds, shuffle=True, random_state=cfg.fold_seed)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(mias)), mias.malignant, mias.patient)):
        fold[test] = k
    return fold


@stage("study_b/films", params=lambda cfg, data_root: film_params(cfg, SET_FIELDS, films(cfg, data_root)))
def compressed_films(cfg: StudyBConfig, ratio: int | None, data_root=None) -> dict:
    """Films compressed at full size (as an archive stores them), decoded, resized to the model input.

    Achieved ratio, bpp, PSNR and SSIM are measured on the 1024x1024 film."""
    mias = films(cfg, data_root)
    pixels, stats = coding.compress_many([mias.path(n) for n in mias.names], cfg.codec if ratio else None,
                                         ratio or 0, mode="L", out_size=cfg.films.input_size, workers=cfg.workers)
    return {"pixels": pixels, **stats}


def survey_names(cfg: StudyBConfig, mias: data.MiasSet) -> list[str]:
    """The films of the JPEG 2000 survey: all, or a seeded sample of ``survey_films`` (in film order).

    The survey describes the codec, not the labels, so the sample is plain random; it is drawn with
    ``fold_seed``, the study's one seed for choosing films."""
    if cfg.films.survey_films is None or cfg.films.survey_films >= len(mias):
        return list(mias.names)
    keep = np.sort(np.random.default_rng(cfg.fold_seed).choice(len(mias), cfg.films.survey_films, replace=False))
    return [mias.names[i] for i in keep]


def survey_size(cfg: StudyBConfig, data_root=None) -> tuple[int, int]:
    """(films the survey table covers, MIAS films in all): fewer where ``max_films`` or
    ``survey_films`` samples them."""
    return len(survey_names(cfg, films(cfg, data_root))), len(data.load_mias(data_root))


@stage("study_b/film_survey",
       params=lambda cfg, data_root: film_params(cfg, FILM_FIELDS + ("codec", "films.compression_ratios", "films.survey_films"),
                                             films(cfg, data_root)))
def film_survey(cfg: StudyBConfig, data_root=None) -> dict:
    """Achieved ratio, bpp, PSNR and SSIM of every surveyed film (:func:`survey_names`) at each of
    ``compression_ratios`` (``<ratio>_<stat>``), measured on the 1024x1024 film as
    :func:`compressed_films` does, without keeping the pixels: each film is read and its SSIM
    reference computed once for all ratios."""
    mias = films(cfg, data_root)
    ladder = coding.ladder_stats([mias.path(n) for n in survey_names(cfg, mias)], cfg.codec,
                                 cfg.films.compression_ratios, mode="L", workers=cfg.workers)
    return {f"{r}_{name}": values for r, stats in zip(cfg.films.compression_ratios, ladder.values())
            for name, values in stats.items()}


def _inner_split(index: np.ndarray, y: np.ndarray, groups: np.ndarray, fraction: float, seed: int):
    """Hold out about ``fraction`` of the training folds (whole patients) for early stopping."""
    n_splits = max(2, int(round(1 / fraction)))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # small subsets (smoke) hold fewer positives than splits: expected
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        fit, val = next(splitter.split(np.zeros(len(index)), y[index], groups[index]))
    return index[fit], index[val]


def _build(cfg: StudyBConfig, architecture: str):
    if architecture == "cnn":
        return lambda: models.mammo_cnn(cfg)
    if architecture == "resnet18":
        return lambda: models.resnet18(cfg, cfg.resnet_weights)
    raise ValueError(f"architecture={architecture!r}: use one of {ARCHITECTURES}")


def sides(mias: data.MiasSet) -> np.ndarray:
    """``True`` for a left film. The breast faces the other way on a right film, which a model sees at
    any size, so laterality is a ready shortcut (images.csv's ``side``: L even numbers, R odd)."""
    path = mias.root / "images.csv"
    with open(path, newline="") as f:
        rows = {r["image"]: r.get("side") for r in csv.DictReader(f)}
    missing = [n for n in mias.names if rows.get(n) not in ("L", "R")]
    if missing:
        raise data.DataError(f"{str(path)!r} gives no side (L or R) for {len(missing)} film(s), e.g. {missing[:3]}: "
                             "the file is not in hdmann's MIAS layout; rebuild it with the data folder's prepare.py.")
    return np.array([rows[n] == "L" for n in mias.names])


def training_labels(mias: data.MiasSet, label_seed: int | None = None) -> np.ndarray:
    """Malignant (1) or not, per film; with ``label_seed`` a seeded permutation of them over the
    films: the null model of the negative control (same films, same folds, labels with no link to
    the images)."""
    y = mias.malignant.astype(np.int32)
    return y if label_seed is None else np.random.default_rng(label_seed).permutation(y)


def model_inputs(cfg: StudyBConfig, ratio: int | None, data_root=None, align_sides: bool = False) -> np.ndarray:
    """The films at one level as the model takes them (N, size, size, 1); with ``align_sides`` every
    right film is mirrored left to right so that all breasts face the same way."""
    x = compressed_films(cfg, ratio, data_root)["pixels"]
    if align_sides:
        right = ~sides(films(cfg, data_root))
        x = x.copy()
        x[right] = x[right][:, :, ::-1]
    return x[..., None]


@stage("study_b/run", params=lambda cfg, data_root: film_params(cfg, RUN_FIELDS, films(cfg, data_root)),
       reads=lambda cfg, **_: [compressed_films.on(cfg, ratio_of(lv)) for lv in levels(cfg)])
def run(cfg: StudyBConfig, architecture: str = "cnn", train_ratio: int | None = None, data_root=None, *,
        label_seed: int | None = None, align_sides: bool = False, folder: Path) -> None:
    """Five-fold training at one training level; every fold's model is tested at every level.

    ``label_seed`` trains and scores against permuted labels (:func:`training_labels`);
    ``align_sides`` mirrors every right film so that all breasts face the same way, which takes
    laterality away from the model. The folds stay those of the real labels either way.

    The cache folder holds each fold's model variables (``fold<k>.npz``; the architecture is rebuilt
    from the config: Keras's own weight files carry the optimizer state too, 134 MB instead of
    45 MB for a ResNet18 fold) and the scores of the held-out films at every level (``scores.npz``);
    calling it returns that folder."""
    if train_ratio is not None and train_ratio not in cfg.films.compression_ratios:
        raise ValueError(f"train_ratio={train_ratio} is not among compression_ratios {cfg.films.compression_ratios}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture={architecture!r}: use one of {ARCHITECTURES}")
    mias = films(cfg, data_root)
    labels = training_labels(mias, label_seed)
    y = labels.astype(np.float32)
    fold = folds(cfg, mias)
    x_train_level = model_inputs(cfg, train_ratio, data_root, align_sides)
    test_sets = {lv: model_inputs(cfg, ratio_of(lv), data_root, align_sides) for lv in levels(cfg)}
    reusable = train.ReusableModel(_build(cfg, architecture), "binary_crossentropy",
                                   train.adam(cfg.films.learning_rate), seeds.derive(cfg.train_seed, "init"))
    scores = {lv: np.full(len(mias), np.nan, dtype=np.float32) for lv in levels(cfg)}
    info = []
    epochs = cfg.films.resnet_max_epochs if architecture == "resnet18" and cfg.films.resnet_max_epochs else cfg.films.max_epochs
    for k in range(cfg.n_folds):
        train_idx, test_idx = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        fit_idx, val_idx = _inner_split(train_idx, labels, mias.patient,
                                        cfg.films.inner_validation_fraction,
                                        seeds.derive(cfg.train_seed, "inner_split", fold=k))
        model = reusable.reset()
        result = train.fit(model, x_train_level[fit_idx], y[fit_idx], x_train_level[val_idx], y[val_idx],
                           batch_size=cfg.films.batch_size, max_epochs=epochs, patience=cfg.films.patience,
                           seed=seeds.derive(cfg.train_seed, "train", fold=k), class_weight=train.class_weights(y[fit_idx]),
                           fixed_shapes=True)
        np.savez(folder / f"fold{k}.npz", *model.get_weights())
        for lv, x in test_sets.items():
            scores[lv][test_idx] = train.predict(model, x[test_idx], cfg.films.batch_size).ravel()
        info.append({"fold": k, "n_fit": int(len(fit_idx)), "n_val": int(len(val_idx)),
                     "n_test": int(len(test_idx)), **result})
    np.savez(folder / "scores.npz", **scores, labels=labels, fold=fold)
    (folder / "meta.json").write_text(json.dumps({"values": {"folds": info}}))


def fold_model(cfg: StudyBConfig, architecture: str, train_ratio: int | None, fold: int, data_root=None,
               **variant):
    """The trained model of one fold of a run (``variant``: :func:`run`'s keywords)."""
    model = _build(cfg, architecture)()
    with np.load(run(cfg, architecture, train_ratio, data_root, **variant) / f"fold{fold}.npz") as stored:
        model.set_weights([stored[f"arr_{i}"] for i in range(len(stored.files))])
    return model


def scores(cfg: StudyBConfig, architecture: str = "cnn", train_ratio: int | None = None, data_root=None,
           **variant) -> dict:
    """Held-out scores at every level, the labels they are scored against, the folds, and each
    fold's training record (``folds_info``)."""
    folder = run(cfg, architecture, train_ratio, data_root, **variant)
    with np.load(folder / "scores.npz") as npz:
        out = {k: npz[k] for k in npz.files}
    out["folds_info"] = json.loads((folder / "meta.json").read_text())["values"]["folds"]
    return out


def fold_metrics(cfg: StudyBConfig, architecture: str, train_ratio: int | None, test_level: str,
                 data_root=None) -> dict:
    """AUROC and AUPRC of each held-out fold, and their mean and sample SD over the folds."""
    s = scores(cfg, architecture, train_ratio, data_root)
    y, fold, score = s["labels"], s["fold"], s[test_level]
    roc = [evaluation.auroc(y[fold == k], score[fold == k]) for k in range(cfg.n_folds)]
    prc = [evaluation.auprc(y[fold == k], score[fold == k]) for k in range(cfg.n_folds)]
    (roc_m, roc_sd), (prc_m, prc_sd) = evaluation.mean_sd(roc), evaluation.mean_sd(prc)
    return {"architecture": architecture, "train_level": level_name(train_ratio), "test_level": test_level,
            "auroc": roc_m, "auroc_sd": roc_sd, "auprc": prc_m, "auprc_sd": prc_sd,
            "auroc_folds": roc, "auprc_folds": prc, "prevalence": float(y.mean())}


def experiment_a(cfg: StudyBConfig, architecture: str = "cnn", data_root=None) -> list[dict]:
    """Train on uncompressed films, test at every level."""
    return [fold_metrics(cfg, architecture, None, lv, data_root) for lv in levels(cfg)]


def ratio_table(cfg: StudyBConfig, data_root=None, tolerance: float = 0.10) -> list[dict]:
    """Target vs achieved compression ratio (and bpp, PSNR, SSIM) over the films, per level."""
    rows = []
    survey = film_survey(cfg, data_root)
    for r in cfg.films.compression_ratios:
        s = {name: survey[f"{r}_{name}"] for name in ("ratio", "bpp", "psnr", "ssim")}
        achieved = float(np.median(s["ratio"]))
        rows.append({"target_ratio": r, "achieved_median": achieved, "achieved_min": float(s["ratio"].min()),
                     "achieved_max": float(s["ratio"].max()), "bpp": float(np.mean(s["bpp"])),
                     "psnr": float(np.mean(s["psnr"])), "ssim": float(np.mean(s["ssim"])),
                     "reached_share": float(np.mean([coding.reached(a, r, tolerance) for a in s["ratio"]])),
                     "films": int(len(s["ratio"]))})
    return rows


def fold_table(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """Films, malignant films and patients per fold, and how many patients appear in two folds (0)."""
    mias = films(cfg, data_root)
    fold = folds(cfg, mias)
    rows = [{"fold": k, "films": int((fold == k).sum()), "malignant": int(mias.malignant[fold == k].sum()),
             "patients": int(len(np.unique(mias.patient[fold == k])))} for k in range(cfg.n_folds)]
    split_patients = sum(len(np.unique(fold[mias.patient == p])) > 1 for p in np.unique(mias.patient))
    for row in rows:
        row["patients_split_across_folds"] = int(split_patients)
    return rows
