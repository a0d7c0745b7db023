"""How the codecs behave on our data: one-image ladders and whole-dataset target-vs-achieved tables."""
from __future__ import annotations

import numpy as np

from hdmann.engine import coding, data
from hdmann.engine.stages import stage
from hdmann.studies.foundations.config import CompressionConfig


def _isic_sources(cfg: CompressionConfig, data_root) -> list:
    """Files of both splits, ``max_isic_images`` per class at most."""
    items = [item for split in data.ISIC_SPLITS for item in data.list_isic(split, data_root)]
    keep = data.take_per_class(np.array([label for _, label in items]), cfg.max_isic_images, cfg.survey_seed)
    return [items[i][0] for i in keep]


def isic_survey_size(cfg: CompressionConfig, data_root=None) -> tuple[int, int]:
    """(images the survey tables cover, isic4 images in all): a seeded sample in quick and smoke."""
    every = sum(len(data.list_isic(split, data_root)) for split in data.ISIC_SPLITS)
    return len(_isic_sources(cfg, data_root)), every


def isic_example(cfg: CompressionConfig, data_root=None) -> tuple[np.ndarray, str]:
    """The first image (by name) of ``example_class`` in the train folder, at its stored size."""
    if cfg.example_class not in data.ISIC_CLASSES:
        raise ValueError(f"example_class={cfg.example_class!r}: use one of {data.ISIC_CLASSES}")
    label = data.ISIC_CLASSES.index(cfg.example_class)
    path = next(p for p, y in data.list_isic("train", data_root) if y == label)
    return data.read_image(path, "RGB"), path.stem


def mias_example(cfg: CompressionConfig, data_root=None) -> tuple[np.ndarray, str, list]:
    """A malignant film with a located lesion, so the ladder can zoom onto what matters."""
    mias = data.load_mias(data_root)
    located = [n for n, s in zip(mias.names, mias.severity)
               if s == "malignant" and any(les.severity == "malignant" for les in mias.lesions[n])]
    name = cfg.example_film or located[0]
    if name not in mias.names:
        raise ValueError(f"example_film={name!r} is not a MIAS film name (mdb001..mdb322)")
    return data.read_image(mias.path(name), "L"), name, mias.lesions[name]


def ladder(image: np.ndarray, codec: str, settings) -> list[coding.Coded]:
    return [coding.compress(image, codec, s) for s in settings]


def _survey_params(cfg: CompressionConfig, data_root) -> dict:
    return {"fields": {f: getattr(cfg, f) for f in ("jpeg_qualities", "jp2_ratios", "max_isic_images", "survey_seed")},
            "data": data.fingerprint_files(_isic_sources(cfg, data_root))}


@stage("survey/isic", params=_survey_params)
def isic_survey(cfg: CompressionConfig, codec: str, data_root=None) -> dict:
    """Each image's achieved ratio, bpp, PSNR and SSIM (``<setting>_<stat>``) at every setting of ``codec``."""
    settings = cfg.jpeg_qualities if codec == "jpeg" else cfg.jp2_ratios
    ladder = coding.ladder_stats(_isic_sources(cfg, data_root), codec, settings, mode="RGB", workers=cfg.workers)
    return {f"{s}_{name}": values for s, stats in zip(settings, ladder.values()) for name, values in stats.items()}


def isic_table(cfg: CompressionConfig, codec: str, data_root=None) -> list[dict]:
    """Per JPEG quality (or JPEG 2000 target ratio): achieved ratio, bpp, PSNR and SSIM over isic4."""
    settings = cfg.jpeg_qualities if codec == "jpeg" else cfg.jp2_ratios
    stats = isic_survey(cfg, codec, data_root)
    rows = []
    for s in settings:
        ratio = stats[f"{s}_ratio"]
        row = {"setting": s, "images": int(len(ratio)), "achieved_median": float(np.median(ratio)),
               "achieved_min": float(ratio.min()), "achieved_max": float(ratio.max()),
               "bpp": float(np.mean(stats[f"{s}_bpp"])), "psnr": float(np.mean(stats[f"{s}_psnr"])),
               "ssim": float(np.mean(stats[f"{s}_ssim"]))}
        if codec == "jpeg2000":
            row["reached_share"] = float(np.mean([coding.reached(a, s, cfg.ratio_tolerance) for a in ratio]))
        rows.append(row)
    return rows
