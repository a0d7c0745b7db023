"""The codec chapter's stages: every (codec, setting) of a sweep is one cache entry of predictions.

Nothing is trained here. Study A's HD-MANN (:func:`hdmann.studies.study_a.pipeline.train_model`, trained on
originals, every training seed of :func:`hdmann.studies.study_a.pipeline.seed_configs` in one stage) classifies the
validation part and the test folder after each codec at each setting;
Study B's patch CNN (the fold models of :func:`hdmann.studies.study_b.pipeline.run` trained on originals, every
repeat) and its texture-feature baseline score the held-out patches cut from whole films compressed
by each codec, as Study B does it (compress the film, decode, then cut). The coded sets are stages of
their own (:mod:`hdmann.studies.codecs.sets`, coded in worker processes), so a retrained model only rescores them.

Tables, the margin rule, BD-accuracy and the ranking live in :mod:`hdmann.studies.codecs.report`.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from hdmann.engine import codecs, stages
from hdmann.engine.config import value_at
from hdmann.methods import features, models, seeds, train
from hdmann.studies.codecs import sets as codec_sets
from hdmann.studies.codecs.config import CodecConfig
from hdmann.studies.study_a import pipeline as sa
from hdmann.studies.study_b import pipeline as sbp

ORIGINAL = "original"
STUDIES = ("a", "b")


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
        try:
            name = codecs.codec(str(raw).strip().lower()).name
        except ValueError:
            raise ValueError(f"codecs: {raw!r} is not a codec; use some of {codecs.NAMES} "
                             "(or 'jpeg' for jpeg420)") from None
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


def effort(cfg: CodecConfig, codec: str) -> dict:
    """The encoder options ``codec`` runs with in this chapter (its presets from the config)."""
    return codec_sets.effort(cfg, codec)


# ------------------------------------------------------------------------------------------------
# Study A: HD-MANN on ISIC
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _study_a_model(folder: str):
    return models.load(Path(folder) / "model.keras")


def _a_params(cfg: CodecConfig, data_root, codec, setting) -> dict:
    # the model, the split and the coded set enter through their keys
    return {"distance": cfg.study_a.distance}


def _a_reads(cfg: CodecConfig, codec, setting) -> list:
    return ([sa.train_model.on(c) for c in sa.seed_configs(cfg.study_a)]
            + [sa.split_data.on(cfg.study_a), codec_sets.isic_coded.on(cfg, codec, setting)])


@stages.stage("rate_accuracy/study_a", params=_a_params, reads=_a_reads)
def study_a_set(cfg: CodecConfig, codec: str | None, setting=None, data_root=None) -> dict:
    """Predicted class of every image of the validation part and the test folder after ``codec`` at
    ``setting`` (``codec=None``: originals) by every training seed's model (``<part>_guess``: seeds x
    images, in :func:`hdmann.studies.study_a.pipeline.seed_configs` order), and per image its bytes,
    bpp, PSNR and SSIM. The set is coded once (:func:`hdmann.studies.codecs.sets.isic_coded`) and
    every seed's model reads it."""
    acfg = cfg.study_a
    if codec is not None:
        codecs.require(codec)
    folders = [sa.train_model(c, data_root) for c in sa.seed_configs(acfg)]
    split = sa.split_data(acfg, data_root)
    coded = codec_sets.isic_coded(cfg, codec, setting, data_root)
    memory = sa.key_memory(acfg)
    out = {}
    for part in sa.SPLITS:
        out[f"{part}_guess"] = np.stack([
            memory.predict(train.predict(_study_a_model(str(folder)), coded[f"{part}_pixels"]), acfg.distance)
            for folder in folders]).astype(np.int64)
        out[f"{part}_labels"] = split[f"y_{part}"].astype(np.int64)
        for name in ("bytes", "bpp", "psnr", "ssim"):
            out[f"{part}_{name}"] = coded[f"{part}_{name}"]
    return out


# ------------------------------------------------------------------------------------------------
# Study B: the patch CNN and the feature baseline on MIAS
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _fold_model(bcfg, repeat: int, fold: int, data_root):
    return sbp.fold_model(bcfg, "cnn", None, repeat, fold, data_root)


@functools.lru_cache(maxsize=8)
def _feature_models(bcfg, repeat: int, data_root) -> dict:
    """The feature baseline trained on original patches, one per fold (as :func:`sbp.feature_scores`)."""
    p = sbp.patch_plan(bcfg, data_root)
    y = _labels(p)
    fold = sbp.folds(bcfg, p, repeat)
    x = sbp.patch_features(bcfg, None, data_root)
    return {k: features.fit(x[(fold != k) & (y >= 0)], y[(fold != k) & (y >= 0)], bcfg.patches.feature_c,
                          seeds.derive(bcfg.train_seed, "features", fold=k))
            for k in range(bcfg.n_folds) if np.any(fold == k)}


def _labels(p) -> np.ndarray:
    """Malignant (1) or not (0) per patch, -1 outside the task, as in :func:`sbp.run`."""
    y_all, rows = p.labels("malignant")
    y = np.full(len(p), -1, np.int64)
    y[rows] = y_all
    return y


def _b_reads(cfg: CodecConfig, codec, setting) -> list:
    bcfg = cfg.study_b
    return ([codec_sets.film_coded.on(cfg, codec, setting), sbp.plan.on(bcfg), sbp.feature_matrix.on(bcfg, None)]
            + [sbp.run.on(bcfg, "cnn", None, r, "malignant") for r in range(bcfg.patches.repeats)])


@stages.stage("rate_accuracy/study_b", reads=_b_reads,
              params=lambda cfg, data_root: {"fields": {f: value_at(cfg.study_b, f) for f in ("patches.feature_c", "train_seed")}})
def study_b_set(cfg: CodecConfig, codec: str | None, setting=None, data_root=None) -> dict:
    """Held-out scores of the patch CNN (``cnn_r<repeat>``) and the feature baseline
    (``features_r<repeat>``) on patches cut from films coded by ``codec`` at ``setting``; per film
    ``bytes``, ``bpp``, ``psnr_breast``; per patch ``patch_psnr``, ``patch_ssim``."""
    bcfg = cfg.study_b
    if codec is not None:
        codecs.require(codec)
    p = sbp.patch_plan(bcfg, data_root)
    y = _labels(p)
    coded = codec_sets.film_coded(cfg, codec, setting, data_root)
    x = sbp.model_input(coded["patches"], bcfg.patches.standardise)
    feats = features.patch_features(coded["patches"])
    out = {"labels": y, **{k: coded[k] for k in ("film_ids", "bytes", "bpp", "psnr_breast", "patch_psnr", "patch_ssim")}}
    for r in range(bcfg.patches.repeats):
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


# ------------------------------------------------------------------------------------------------
# sweeps
# ------------------------------------------------------------------------------------------------
def points(cfg: CodecConfig, study: str, names) -> list[tuple[str | None, float | None]]:
    """Every (codec, setting) a study's sweep scores, originals ``(None, None)`` first."""
    return [(None, None)] + [(codec, codecs.check_setting(codec, s)) for codec in study_codecs(cfg, study, names)
                             for s in settings(cfg, study, codec)]


def sweep(cfg: CodecConfig, study: str, names, data_root=None, log=None) -> dict:
    """Every set of one study: ``{(codec, setting): set}`` with ``(ORIGINAL, None)`` for originals."""
    stage = study_a_set if study == "a" else study_b_set
    out = {}
    for codec, setting in points(cfg, study, names):
        if log and codec:
            log(f"study {study}: {codec} {setting}")
        out[(codec or ORIGINAL, setting)] = stage(cfg, codec, setting, data_root=data_root)
    return out


def stage_calls(cfg: CodecConfig, names=None) -> list:
    """Every stage the chapter reads (its study's ``__init__`` declares it to the graph): both studies' sweeps over ``names``
    (default every codec), less the codecs whose library is not installed (the chapter says which)."""
    names, _ = usable(list(names or codecs.CODECS))
    return [(study_a_set if study == "a" else study_b_set).on(cfg, codec, setting)
            for study in STUDIES for codec, setting in points(cfg, study, names)]
