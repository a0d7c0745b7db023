"""The codec chapter's stages: every (codec, setting) of a sweep is one cache entry of predictions.

Nothing is trained here. Study A's HD-MANN (:func:`hdmann.study_a.train_model`, trained on
originals) classifies the validation part and the test folder after each codec at each setting;
Study B's patch CNN (the fold models of :func:`hdmann.study_b_patches.run` trained on originals, every
repeat) and its texture-feature baseline score the held-out patches cut from whole films compressed
by each codec, as Study B does it (compress the film, decode, then cut). Images and films are coded
in worker processes (Pillow, NumPy and SciPy only), the models run in the parent.

Tables, the margin rule, BD-accuracy and the ranking live in :mod:`hdmann.rate_accuracy_report`.
"""
from __future__ import annotations

import functools
import json
import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from hdmann import cache, codecs, compression, data, patches
from hdmann import study_a as sa
from hdmann import study_b_patches as sbp
from hdmann.config import CodecConfig

ORIGINAL = "original"
STUDIES = ("a", "b")
ALIASES = {"jpeg": "jpeg420"}
A_CODE = sa.MODEL_CODE + ("compression", "codecs", "rate_accuracy")
B_CODE = sbp.TRAIN_CODE + ("codecs", "features", "rate_accuracy")


# ------------------------------------------------------------------------------------------------
# which codecs and settings
# ------------------------------------------------------------------------------------------------
def parse_codecs(requested) -> list[str]:
    """The chapter's ``codecs`` parameter: a list of names, or (from ``papermill -p``) a JSON list or a
    comma-separated string; ``"jpeg"`` means JPEG 4:2:0. Unknown names are refused, naming the known."""
    if isinstance(requested, str):
        text = requested.strip()
        requested = json.loads(text) if text.startswith("[") else [t for t in text.split(",") if t.strip()]
    if not isinstance(requested, (list, tuple)) or not requested:
        raise ValueError(f"codecs={requested!r}: give a non-empty list of codec names from {codecs.NAMES}")
    names = []
    for raw in requested:
        name = ALIASES.get(str(raw).strip().lower(), str(raw).strip().lower())
        if name not in codecs.CODECS:
            raise ValueError(f"codecs: {raw!r} is not a codec; use some of {codecs.NAMES} (or 'jpeg' for jpeg420)")
        if name not in names:
            names.append(name)
    return names


def usable(requested) -> tuple[list[str], list[dict]]:
    """The requested codecs whose library is installed, and for each other one the reason."""
    names, missing = [], []
    for name in parse_codecs(requested):
        try:
            codecs.require(name)
            names.append(name)
        except codecs.CodecUnavailable as exc:
            missing.append({"codec": name, "reason": str(exc)})
    return names, missing


def settings(cfg: CodecConfig, study: str, codec: str) -> tuple:
    table = cfg.isic_settings if study == "a" else cfg.film_settings
    if study not in STUDIES:
        raise ValueError(f"study={study!r}: use a or b")
    return tuple(table.get(codec, ()))


def study_codecs(cfg: CodecConfig, study: str, names) -> list[str]:
    """Codecs run on one study: those with settings for its images (films are grey: no JPEG 4:4:4)."""
    return [c for c in names if settings(cfg, study, c)]


def effort(cfg: CodecConfig) -> codecs.Effort:
    return codecs.Effort(cfg.webp_method, cfg.avif_speed, cfg.jxl_effort)


def _effort_params(cfg: CodecConfig, codec: str | None) -> dict:
    """Only the preset of the codec at hand enters its key: a new AVIF speed reruns AVIF only."""
    key = {"webp": "webp_method", "avif": "avif_speed", "jxl": "jxl_effort"}.get(codec or "")
    return {key: getattr(cfg, key)} if key else {}


# ------------------------------------------------------------------------------------------------
# workers
# ------------------------------------------------------------------------------------------------
def _pool_map(fn, jobs, workers: int):
    if workers <= 1 or len(jobs) < 8:
        return [fn(j) for j in jobs]
    # fork, as in hdmann.compression: the workers run only Pillow, NumPy and SciPy, never JAX
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fork.*", category=RuntimeWarning)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
            return list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (4 * workers))))


def _image_job(job):
    """Worker: code one ISIC image at its stored size, measure it there, resize for the model."""
    image, codec, setting, eff, out_size = job
    if codec is None:
        return compression._resize(image, out_size), (image.nbytes, 8.0 * image.nbytes / (image.shape[0] * image.shape[1]),
                                                      float("inf"), 1.0)
    c = codecs.compress(image, codec, setting, eff)
    return compression._resize(c.pixels, out_size), (c.encoded_bytes, c.bpp, c.psnr, c.ssim)


def _film_job(job):
    """Worker: code one whole film, decode it, cut its patches as Study B does (with the shift margin,
    then centred), and measure PSNR inside the breast and PSNR/SSIM of each patch."""
    path, codec, setting, eff, centres, size, shift, threshold = job
    film = data.read_image(Path(path), "L")
    if codec is None:
        decoded, encoded = film, film.nbytes
    else:
        c = codecs.compress(film, codec, setting, eff, metrics=False)
        decoded, encoded = c.pixels, c.encoded_bytes
    mask = patches.breast_mask(film, threshold)
    err = film[mask].astype(np.float64) - decoded[mask].astype(np.float64)
    mse = float(np.mean(err**2)) if err.size else float("nan")
    psnr_breast = float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
    cut = size + 2 * shift
    cuts = np.stack([sbp.centre(patches.cut(decoded, x, y, cut), size) for x, y in centres])
    refs = np.stack([sbp.centre(patches.cut(film, x, y, cut), size) for x, y in centres])
    quality = np.array([(compression.psnr(r, d), compression.ssim(r, d)) for r, d in zip(refs, cuts)])
    return cuts, quality, (encoded, 8.0 * encoded / film.size, psnr_breast)


# ------------------------------------------------------------------------------------------------
# Study A: HD-MANN on ISIC
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _study_a_model(folder: str):
    import keras

    return keras.saving.load_model(Path(folder) / "model.keras")


def study_a_set(cfg: CodecConfig, codec: str | None, setting=None, data_root=None) -> dict:
    """Predicted class, bytes, bpp, PSNR and SSIM of every image of the validation part and the
    test folder after ``codec`` at ``setting`` (``codec=None``: originals)."""
    from hdmann import train

    acfg = cfg.study_a
    if codec is not None:
        codecs.require(codec)
        setting = codecs.check_setting(codec, setting)

    def make():
        folder = sa.train_model(acfg, data_root)
        split = sa.split_data(acfg, data_root)
        memory = sa.key_memory(acfg)
        out = {}
        for part in sa.SPLITS:
            images = split[f"x_{part}"]
            results = _pool_map(_image_job, [(im, codec, setting, effort(cfg), acfg.image_size) for im in images],
                                cfg.workers)
            pixels = np.stack([r[0] for r in results])
            stats = np.array([r[1] for r in results], dtype=np.float64)
            outputs = train.predict(_study_a_model(str(folder)), pixels)
            out[f"{part}_guess"] = memory.predict(outputs, acfg.distance).astype(np.int64)
            out[f"{part}_labels"] = split[f"y_{part}"].astype(np.int64)
            for i, name in enumerate(("bytes", "bpp", "psnr", "ssim")):
                out[f"{part}_{name}"] = stats[:, i]
        return out

    params = {**sa._params(acfg, sa.MODEL_FIELDS, data_root), "codec": codec, "setting": setting,
              **_effort_params(cfg, codec)}
    return cache.cached("rate_accuracy/study_a", params, make, code=A_CODE)


# ------------------------------------------------------------------------------------------------
# Study B: the patch CNN and the feature baseline on MIAS
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _fold_model(bcfg, repeat: int, fold: int, data_root):
    return sbp.fold_model(bcfg, "cnn", None, repeat, fold, data_root)


@functools.lru_cache(maxsize=8)
def _feature_models(bcfg, repeat: int, data_root) -> dict:
    """The feature baseline trained on original patches, one per fold (as :func:`sbp.feature_scores`)."""
    from hdmann import features

    p = sbp.patch_plan(bcfg, data_root)
    y = _labels(p)
    fold = sbp.folds(bcfg, p, repeat)
    x = sbp.patch_features(bcfg, None, data_root)
    return {k: features.fit(x[(fold != k) & (y >= 0)], y[(fold != k) & (y >= 0)], bcfg.feature_c, bcfg.train_seed + k)
            for k in range(bcfg.n_folds) if np.any(fold == k)}


def _labels(p) -> np.ndarray:
    """Malignant (1) or not (0) per patch, -1 outside the task, as in :func:`sbp.run`."""
    y_all, rows = p.labels("malignant")
    y = np.full(len(p), -1, np.int64)
    y[rows] = y_all
    return y


def study_b_set(cfg: CodecConfig, codec: str | None, setting=None, data_root=None) -> dict:
    """Held-out scores of the patch CNN (``cnn_r<repeat>``) and the feature baseline
    (``features_r<repeat>``) on patches cut from films coded by ``codec`` at ``setting``; per film
    ``bytes``, ``bpp``, ``psnr_breast``; per patch ``patch_psnr``, ``patch_ssim``."""
    from hdmann import features, study_b, train

    bcfg = cfg.study_b
    if codec is not None:
        codecs.require(codec)
        setting = codecs.check_setting(codec, setting)
    mias = study_b.films(bcfg, data_root)

    def make():
        p = sbp.patch_plan(bcfg, data_root)
        y = _labels(p)
        film_ids = np.unique(p.film)
        jobs = [(str(mias.path(mias.names[i])), codec, setting, effort(cfg),
                 [(p.x[k], p.y[k]) for k in np.flatnonzero(p.film == i)], bcfg.patch_size, bcfg.patch_shift,
                 bcfg.breast_threshold) for i in film_ids]
        results = _pool_map(_film_job, jobs, cfg.workers)
        cuts = np.zeros((len(p), bcfg.patch_size, bcfg.patch_size), np.uint8)
        quality = np.zeros((len(p), 2))
        for i, (c, q, _) in zip(film_ids, results):
            rows = np.flatnonzero(p.film == i)
            cuts[rows], quality[rows] = c, q
        film_stats = np.array([r[2] for r in results], dtype=np.float64)
        x = sbp.model_input(cuts, bcfg.patch_standardise)
        feats = features.patch_features(cuts)
        out = {"labels": y.astype(np.int64), "film_ids": film_ids, "bytes": film_stats[:, 0], "bpp": film_stats[:, 1],
               "psnr_breast": film_stats[:, 2], "patch_psnr": quality[:, 0], "patch_ssim": quality[:, 1]}
        for r in range(bcfg.patch_repeats):
            fold = sbp.folds(bcfg, p, r)
            cnn = np.full(len(p), np.nan)
            feat = np.full(len(p), np.nan)
            fitted = _feature_models(bcfg, r, data_root)
            for k in range(bcfg.n_folds):
                rows = np.flatnonzero(fold == k)
                if not len(rows):
                    continue
                cnn[rows] = train.predict(_fold_model(bcfg, r, k, data_root), x[rows], 64).ravel()
                feat[rows] = fitted[k].predict_proba(feats[rows])[:, 1]
            out[f"cnn_r{r}"], out[f"features_r{r}"], out[f"fold_r{r}"] = cnn, feat, fold
        return out

    params = {**sbp._params(bcfg, sbp.TRAIN_FIELDS + ("patch_repeats", "feature_c"), mias), "codec": codec,
              "setting": setting, **_effort_params(cfg, codec)}
    return cache.cached("rate_accuracy/study_b", params, make, code=B_CODE)


# ------------------------------------------------------------------------------------------------
# sweeps
# ------------------------------------------------------------------------------------------------
def sweep(cfg: CodecConfig, study: str, names, data_root=None, log=None) -> dict:
    """Every set of one study: ``{(codec, setting): set}`` with ``(ORIGINAL, None)`` for originals."""
    stage = study_a_set if study == "a" else study_b_set
    out = {(ORIGINAL, None): stage(cfg, None, None, data_root)}
    for codec in study_codecs(cfg, study, names):
        for s in settings(cfg, study, codec):
            if log:
                log(f"study {study}: {codec} {s}")
            out[(codec, codecs.check_setting(codec, s))] = stage(cfg, codec, s, data_root)
    return out

