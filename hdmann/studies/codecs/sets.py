"""Coded image sets for the codec chapter: each (codec, setting) of a dataset coded once and cached,
apart from any model, so retraining a study's model rescores the sets without recoding them.

ISIC images (Study A's validation part and test folder) are coded at their stored size, measured
there, and resized to the model's input; MIAS films are coded whole, decoded and only then cut at
Study B's patch plan, as Study B does it. Coding runs in worker processes (Pillow, NumPy, SciPy).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hdmann.engine import codecs, coding, data, parallel, quality, stages
from hdmann.methods import patches
from hdmann.studies.codecs.config import CodecConfig
from hdmann.studies.study_a import pipeline as sa
from hdmann.studies.study_b import control as study_b, pipeline as sbp

def _presets(cfg: CodecConfig, codec: str | None) -> dict[str, tuple[str, object]]:
    """The codec's encoder options the config sets, as ``{option: (config field, value)}``: a field named
    ``<codec>_<option>`` (``webp_method``, ``avif_speed``, ``jxl_effort``) sets that option."""
    if codec is None:
        return {}
    spec = codecs.codec(codec)
    return {option: (f"{spec.name}_{option}", getattr(cfg, f"{spec.name}_{option}"))
            for option in spec.options if hasattr(cfg, f"{spec.name}_{option}")}


def effort(cfg: CodecConfig, codec: str | None) -> dict:
    """The encoder options ``codec`` is run with: its presets from the config, the others at the codec's defaults."""
    return {option: value for option, (_, value) in _presets(cfg, codec).items()}


def effort_params(cfg: CodecConfig, codec: str | None) -> dict:
    """Only the preset of the codec at hand enters its key: a new AVIF speed reruns AVIF only."""
    return dict(_presets(cfg, codec).values())


def pool_map(fn, jobs, workers: int):
    return parallel.fork_map(fn, jobs, workers if len(jobs) >= 8 else 1)


def _image_job(job):
    """Worker: code one ISIC image at its stored size, measure it there, resize for the model."""
    image, codec, setting, eff, out_size = job
    if codec is None:
        return coding.resize(image, out_size), (image.nbytes, 8.0 * image.nbytes / (image.shape[0] * image.shape[1]),
                                                      float("inf"), 1.0)
    c = coding.compress(image, codec, setting, **eff)
    return coding.resize(c.pixels, out_size), (c.encoded_bytes, c.bpp, c.psnr, c.ssim)


def _film_job(job):
    """Worker: code one whole film, decode it, cut its patches as Study B does (with the shift margin,
    then centred), and measure PSNR inside the breast and PSNR/SSIM of each patch."""
    path, codec, setting, eff, centres, size, shift, threshold = job
    film = data.read_image(Path(path), "L")
    if codec is None:
        decoded, encoded = film, film.nbytes
    else:
        c = coding.compress(film, codec, setting, metrics=False, **eff)
        decoded, encoded = c.pixels, c.encoded_bytes
    mask = patches.breast_mask(film, threshold)
    err = film[mask].astype(np.float64) - decoded[mask].astype(np.float64)
    mse = float(np.mean(err**2)) if err.size else float("nan")
    psnr_breast = float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
    cut = size + 2 * shift
    cuts = np.stack([sbp.centre(patches.cut(decoded, x, y, cut), size) for x, y in centres])
    refs = np.stack([sbp.centre(patches.cut(film, x, y, cut), size) for x, y in centres])
    fidelity = np.array([(quality.psnr(r, d), quality.ssim(r, d)) for r, d in zip(refs, cuts)])
    return cuts, fidelity, (encoded, 8.0 * encoded / film.size, psnr_breast)


def _checked(codec, setting):
    if codec is None:
        return None
    codecs.require(codec)
    return codecs.check_setting(codec, setting)


def _isic_params(cfg: CodecConfig, data_root, codec, setting) -> dict:
    # the split's fields and data enter through its key; here the input size and the codec's preset
    return {"image_size": cfg.study_a.image_size, **effort_params(cfg, codec)}


@stages.stage("codec_sets/isic", params=_isic_params, reads=lambda cfg, codec, setting: [sa.split_data.on(cfg.study_a)])
def isic_coded(cfg: CodecConfig, codec: str | None, setting=None, data_root=None) -> dict:
    """Study A's validation part and test folder after ``codec`` at ``setting`` (``None``: originals):
    ``<part>_pixels`` at the model's input size, and per image ``bytes``, ``bpp``, ``psnr``, ``ssim``."""
    acfg = cfg.study_a
    setting = _checked(codec, setting)
    split = sa.split_data(acfg, data_root)
    out = {}
    for part in sa.SPLITS:
        results = pool_map(_image_job, [(im, codec, setting, effort(cfg, codec), acfg.image_size)
                                        for im in split[f"x_{part}"]], cfg.workers)
        out[f"{part}_pixels"] = np.stack([r[0] for r in results])
        stats = np.array([r[1] for r in results], dtype=np.float64)
        for i, name in enumerate(("bytes", "bpp", "psnr", "ssim")):
            out[f"{part}_{name}"] = stats[:, i]
    return out


def _film_params(cfg: CodecConfig, data_root, codec, setting) -> dict:
    # the patch plan (its fields and the films' fingerprint) enters through its key
    return {"patch_shift": cfg.study_b.patches.shift, **effort_params(cfg, codec)}


@stages.stage("codec_sets/film", params=_film_params, reads=lambda cfg, codec, setting: [sbp.plan.on(cfg.study_b)])
def film_coded(cfg: CodecConfig, codec: str | None, setting=None, data_root=None) -> dict:
    """Study B's patches (centred, ``patch_size`` wide) cut from films coded by ``codec`` at ``setting``;
    per film ``bytes``, ``bpp``, ``psnr_breast``; per patch ``patch_psnr``, ``patch_ssim``."""
    bcfg = cfg.study_b
    setting = _checked(codec, setting)
    mias = study_b.films(bcfg, data_root)
    p = sbp.patch_plan(bcfg, data_root)
    film_ids = np.unique(p.film)
    jobs = [(str(mias.path(mias.names[i])), codec, setting, effort(cfg, codec),
             [(p.x[k], p.y[k]) for k in np.flatnonzero(p.film == i)], bcfg.patches.size, bcfg.patches.shift,
             bcfg.patches.breast_threshold) for i in film_ids]
    results = pool_map(_film_job, jobs, cfg.workers)
    cuts = np.zeros((len(p), bcfg.patches.size, bcfg.patches.size), np.uint8)
    fidelity = np.zeros((len(p), 2))
    for i, (c, q, _) in zip(film_ids, results):
        rows = np.flatnonzero(p.film == i)
        cuts[rows], fidelity[rows] = c, q
    stats = np.array([r[2] for r in results], dtype=np.float64)
    return {"patches": cuts, "film_ids": film_ids, "bytes": stats[:, 0], "bpp": stats[:, 1],
            "psnr_breast": stats[:, 2], "patch_psnr": fidelity[:, 0], "patch_ssim": fidelity[:, 1]}
