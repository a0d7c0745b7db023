"""Study B end to end on mini-MIAS: patient-grouped folds, JPEG 2000 sets, CNN and ResNet18 runs.

Every trained model is tested at every compression level (prediction is cheap), so one run per
(architecture, training level) yields experiment (a) (train on originals), (b) (train and test at
the same ratio) and a row of the train x test matrix (c). Each run is one cache entry.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from hdmann import cache, compression, data, evaluation
from hdmann.config import StudyBConfig

FILM_FIELDS = ("max_films", "fold_seed")
SET_FIELDS = FILM_FIELDS + ("input_size", "codec")
RUN_FIELDS = SET_FIELDS + ("conv_filters", "dense_units", "dropout_rate", "learning_rate", "batch_size",
                           "max_epochs", "patience", "inner_validation_fraction", "n_folds", "train_seed",
                           "compression_ratios", "resnet_weights", "resnet_max_epochs")
ARCHITECTURES = ("cnn", "resnet18")
ORIGINAL = "original"


def level_name(ratio: int | None) -> str:
    return ORIGINAL if ratio is None else f"cr{ratio}"


def levels(cfg: StudyBConfig) -> list[str]:
    return [ORIGINAL] + [level_name(r) for r in cfg.compression_ratios]


def _ratio(level: str) -> int | None:
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


def _params(cfg: StudyBConfig, fields, mias: data.MiasSet) -> dict:
    return {"fields": {f: getattr(cfg, f) for f in fields},
            "films": data.fingerprint_files([mias.path(n) for n in mias.names])}


def folds(cfg: StudyBConfig, mias: data.MiasSet) -> np.ndarray:
    """Fold number of each film: stratified by malignancy, grouped by patient, seeded."""
    fold = np.full(len(mias), -1)
    splitter = StratifiedGroupKFold(n_splits=cfg.n_folds, shuffle=True, random_state=cfg.fold_seed)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(mias)), mias.malignant, mias.patient)):
        fold[test] = k
    return fold


def compressed_films(cfg: StudyBConfig, ratio: int | None, data_root=None) -> dict:
    """Films compressed at full size (as an archive stores them), decoded, resized to the model input.

    Achieved ratio, bpp, PSNR and SSIM are measured on the 1024x1024 film."""
    mias = films(cfg, data_root)

    def make():
        pixels, stats = compression.compress_many([mias.path(n) for n in mias.names], cfg.codec if ratio else None,
                                                  ratio or 0, mode="L", out_size=cfg.input_size, workers=cfg.workers)
        return {"pixels": pixels, **stats}

    params = {**_params(cfg, SET_FIELDS, mias), "ratio": ratio}
    return cache.cached("study_b/films", params, make, code=("data", "compression", "study_b"))


def _inner_split(index: np.ndarray, y: np.ndarray, groups: np.ndarray, fraction: float, seed: int):
    """Hold out about ``fraction`` of the training folds (whole patients) for early stopping."""
    n_splits = max(2, int(round(1 / fraction)))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    fit, val = next(splitter.split(np.zeros(len(index)), y[index], groups[index]))
    return index[fit], index[val]


def _build(cfg: StudyBConfig, architecture: str):
    from hdmann import models

    if architecture == "cnn":
        return lambda: models.mammo_cnn(cfg)
    if architecture == "resnet18":
        return lambda: models.resnet18(cfg, cfg.resnet_weights)
    raise ValueError(f"architecture={architecture!r}: use one of {ARCHITECTURES}")


def run(cfg: StudyBConfig, architecture: str = "cnn", train_ratio: int | None = None, data_root=None) -> Path:
    """Five-fold training at one training level; every fold's model is tested at every level.

    The cache folder holds each fold's model variables (``fold<k>.npz``; the architecture is rebuilt
    from the config: Keras's own weight files carry the optimizer state too, 134 MB instead of
    45 MB for a ResNet18 fold) and the scores of the held-out films at every level (``scores.npz``)."""
    import keras

    from hdmann import train

    if train_ratio is not None and train_ratio not in cfg.compression_ratios:
        raise ValueError(f"train_ratio={train_ratio} is not among compression_ratios {cfg.compression_ratios}")
    mias = films(cfg, data_root)

    def build(folder: Path) -> None:
        y = mias.malignant.astype(np.float32)
        fold = folds(cfg, mias)
        x_train_level = compressed_films(cfg, train_ratio, data_root)["pixels"][..., None]
        test_sets = {lv: compressed_films(cfg, _ratio(lv), data_root)["pixels"][..., None] for lv in levels(cfg)}
        reusable = train.ReusableModel(_build(cfg, architecture), "binary_crossentropy",
                                       keras.optimizers.Adam(cfg.learning_rate), cfg.train_seed)
        scores = {lv: np.full(len(mias), np.nan, dtype=np.float32) for lv in levels(cfg)}
        info = []
        epochs = cfg.resnet_max_epochs if architecture == "resnet18" and cfg.resnet_max_epochs else cfg.max_epochs
        for k in range(cfg.n_folds):
            train_idx, test_idx = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            fit_idx, val_idx = _inner_split(train_idx, mias.malignant, mias.patient,
                                            cfg.inner_validation_fraction, cfg.train_seed + k)
            model = reusable.reset()
            result = train.fit(model, x_train_level[fit_idx], y[fit_idx], x_train_level[val_idx], y[val_idx],
                               batch_size=cfg.batch_size, max_epochs=epochs, patience=cfg.patience,
                               seed=cfg.train_seed + k, class_weight=train.class_weights(y[fit_idx]),
                               fixed_shapes=True)
            np.savez(folder / f"fold{k}.npz", *model.get_weights())
            for lv, x in test_sets.items():
                scores[lv][test_idx] = train.predict(model, x[test_idx], cfg.batch_size).ravel()
            info.append({"fold": k, "n_fit": int(len(fit_idx)), "n_val": int(len(val_idx)),
                         "n_test": int(len(test_idx)), **result})
        np.savez(folder / "scores.npz", **scores, labels=mias.malignant, fold=fold)
        (folder / "meta.json").write_text(json.dumps({"values": {"folds": info}}))

    params = {**_params(cfg, RUN_FIELDS, mias), "architecture": architecture, "train_ratio": train_ratio}
    return cache.cached_dir(f"study_b/run_{architecture}", params, build,
                            code=("data", "compression", "models", "train", "study_b"))


def fold_model(cfg: StudyBConfig, architecture: str, train_ratio: int | None, fold: int, data_root=None):
    """The trained model of one fold of a run."""
    model = _build(cfg, architecture)()
    with np.load(run(cfg, architecture, train_ratio, data_root) / f"fold{fold}.npz") as stored:
        model.set_weights([stored[f"arr_{i}"] for i in range(len(stored.files))])
    return model


def scores(cfg: StudyBConfig, architecture: str = "cnn", train_ratio: int | None = None, data_root=None) -> dict:
    folder = run(cfg, architecture, train_ratio, data_root)
    with np.load(folder / "scores.npz") as npz:
        return {k: npz[k] for k in npz.files}


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


def experiment_b(cfg: StudyBConfig, architecture: str = "cnn", data_root=None) -> list[dict]:
    """Train and test at the same level, for every level (the paper's design)."""
    return [fold_metrics(cfg, architecture, _ratio(lv), lv, data_root) for lv in levels(cfg)
            if architecture == "cnn" or _ratio(lv) is None or _ratio(lv) in cfg.resnet_ratios]


def experiment_c(cfg: StudyBConfig, data_root=None, metric: str = "auroc") -> tuple[list[str], np.ndarray]:
    """The train-level x test-level matrix of the CNN on ``matrix_ratios`` (mean over folds)."""
    shown = [ORIGINAL] + [level_name(r) for r in cfg.matrix_ratios]
    matrix = np.array([[fold_metrics(cfg, "cnn", _ratio(tr), te, data_root)[metric] for te in shown]
                       for tr in shown])
    return shown, matrix


def ratio_table(cfg: StudyBConfig, data_root=None, tolerance: float = 0.10) -> list[dict]:
    """Target vs achieved compression ratio (and bpp, PSNR, SSIM) over the films, per level."""
    rows = []
    for r in cfg.compression_ratios:
        s = compressed_films(cfg, r, data_root)
        achieved = float(np.median(s["ratio"]))
        rows.append({"target_ratio": r, "achieved_median": achieved, "achieved_min": float(s["ratio"].min()),
                     "achieved_max": float(s["ratio"].max()), "bpp": float(np.mean(s["bpp"])),
                     "psnr": float(np.mean(s["psnr"])), "ssim": float(np.mean(s["ssim"])),
                     "reached_share": float(np.mean([compression.reached(a, r, tolerance) for a in s["ratio"]])),
                     "films": int(len(s["ratio"]))})
    return rows


def saliency(cfg: StudyBConfig, ratio: int | None, architecture: str = "cnn", data_root=None) -> dict:
    """Grad-CAM (last conv layer) and input-gradient maps of every malignant film with a located
    lesion, from the fold model that held the film out, trained and tested at ``ratio``; with the
    share of saliency energy inside the radiologist's circle and the pointing-game hit."""
    from hdmann import saliency as sal

    mias = films(cfg, data_root)

    def make():
        fold = folds(cfg, mias)
        x = compressed_films(cfg, ratio, data_root)["pixels"]
        chosen = [i for i, n in enumerate(mias.names) if mias.malignant[i]
                  and any(les.severity == "malignant" for les in mias.lesions[n])]
        out = {"index": np.array(chosen, dtype=np.int64)}
        for method in ("gradcam", "gradient"):
            out[f"{method}_maps"] = np.zeros((len(chosen), cfg.input_size, cfg.input_size), np.float16)
        for k in range(cfg.n_folds):
            rows = [j for j, i in enumerate(chosen) if fold[i] == k]
            if not rows:
                continue
            model = fold_model(cfg, architecture, ratio, k, data_root)
            images = x[[chosen[j] for j in rows]][..., None]
            out["gradcam_maps"][rows] = sal.grad_cam(model, images)
            out["gradient_maps"][rows] = sal.input_gradients(model, images)
        for method in ("gradcam", "gradient"):
            energy, hit = [], []
            for j, i in enumerate(chosen):
                mask = sal.lesion_mask(mias.lesions[mias.names[i]], (cfg.input_size, cfg.input_size))
                m = out[f"{method}_maps"][j].astype(np.float32)
                energy.append(sal.energy_inside(m, mask))
                hit.append(sal.pointing_hit(m, mask))
            out[f"{method}_energy"] = np.array(energy)
            out[f"{method}_hit"] = np.array(hit, dtype=np.float64)
        # what a map spread evenly over the film would score: the circle's share of the film
        out["circle_share"] = np.array([sal.lesion_mask(mias.lesions[mias.names[i]],
                                                        (cfg.input_size, cfg.input_size)).mean() for i in chosen])
        return out

    params = {**_params(cfg, RUN_FIELDS, mias), "architecture": architecture, "ratio": ratio}
    return cache.cached("study_b/saliency", params, make, code=("data", "saliency", "study_b", "models", "train"))


def saliency_table(cfg: StudyBConfig, data_root=None, architecture: str = "cnn") -> list[dict]:
    """Per level (model trained and tested there): mean energy inside the circle and pointing-game
    hit rate, each with a 95 % bootstrap interval over films, beside the uniform-map baseline."""
    from hdmann.saliency import bootstrap_mean_ci

    rows = []
    for ratio in (None, *cfg.saliency_ratios):
        s = saliency(cfg, ratio, architecture, data_root)
        row = {"level": level_name(ratio), "films": int(len(s["index"])),
               "uniform_baseline": float(np.mean(s["circle_share"]))}
        for method in ("gradcam", "gradient"):
            for score in ("energy", "hit"):
                m, low, high = bootstrap_mean_ci(s[f"{method}_{score}"], cfg.bootstrap_samples, cfg.bootstrap_seed)
                row.update({f"{method}_{score}": m, f"{method}_{score}_low": low, f"{method}_{score}_high": high})
        rows.append(row)
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


def _band(cfg: StudyBConfig, low: int, high: int) -> list[int]:
    return [r for r in cfg.compression_ratios if low <= r <= high]


def paper_comparison(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """Experiment (b) averaged over folds and ratios in the paper's two bands (<= 5K, 10K-11K)."""
    from hdmann import paper

    rows = []
    for band, ratios, key in (("CR 15 to 5K", _band(cfg, 1, 5000), "upto_5k"),
                              ("CR 10K to 11K", _band(cfg, 10000, 11000), "10k_11k")):
        got = [fold_metrics(cfg, "cnn", r, level_name(r), data_root) for r in ratios]
        rows.append({"band": band, "ratios in this run": ", ".join(f"{r:,}" for r in ratios) or "none",
                     "AUROC (paper)": paper.STUDY_B[f"auroc_{key}"],
                     "AUROC (ours)": float(np.mean([g["auroc"] for g in got])) if got else float("nan"),
                     "AUPRC (paper)": paper.STUDY_B[f"auprc_{key}"],
                     "AUPRC (ours)": float(np.mean([g["auprc"] for g in got])) if got else float("nan"),
                     "prevalence (ours)": got[0]["prevalence"] if got else float("nan")})
    return rows


def saliency_claim(cfg: StudyBConfig, data_root=None, method: str = "gradcam") -> dict:
    """The paper: maps of models trained at CR <= 5K cover the lesion, at 10K-11K they miss it.
    Compares the mean energy inside the circle in the two bands with the uniform-map baseline."""
    table = {r["level"]: r for r in saliency_table(cfg, data_root)}
    low = [table[level_name(r)] for r in cfg.saliency_ratios if r <= 5000]
    high = [table[level_name(r)] for r in cfg.saliency_ratios if r >= 10000]
    baseline = table[ORIGINAL]["uniform_baseline"]
    low_energy = float(np.mean([r[f"{method}_energy"] for r in low])) if low else float("nan")
    high_energy = float(np.mean([r[f"{method}_energy"] for r in high])) if high else float("nan")
    covers = bool(low) and all(r[f"{method}_energy_low"] > baseline for r in low)
    misses = bool(high) and all(r[f"{method}_energy_high"] <= baseline or r[f"{method}_energy"] < low_energy
                                for r in high)
    return {"baseline": baseline, "low_band_energy": low_energy, "high_band_energy": high_energy,
            "verdict": "holds" if covers and misses else "does not hold",
            "rule": "at every CR <= 5K the 95 % interval of the energy inside the circle lies above what a uniform "
                    "map scores, and at 10K-11K it falls to the baseline or below the low-CR mean"}
