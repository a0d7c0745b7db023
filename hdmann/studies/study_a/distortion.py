"""The paper's distortion at the model's input: Study A's claims tested where the paper tested them.

The paper codes JPEG at 180 px and its model reads 180 px. A profile that trains at a smaller input
(quick: 36 px) codes at the stored 180 px and then downsamples, which averages much of JPEG's error
away: the input it reads at q20 is milder than the paper's q50. Two stages measure and undo that:

* :func:`input_distortion`: every level's PSNR and SSIM measured at the model's input size, beside
  the stored size the nominal ladder is measured at (images only: one entry for every seed).
* :func:`matched_ladder` and :func:`matched_predictions`: a second arm that codes JPEG at the input
  size, at the quality whose mean PSNR there matches what the paper's level does at the stored size
  (calibrated on the stopping half, which scores nothing), and each seed's outputs on it.

Where the model reads the stored size (the paper profile) the two arms are one, and no matched
stage is built.
"""
from __future__ import annotations

import numpy as np

from hdmann.engine import coding, quality
from hdmann.engine.stages import stage
from hdmann.methods import train
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a.config import StudyAConfig

LADDER_FIELDS = study_a.SPLIT_FIELDS + ("jpeg_qualities", "jpeg_subsampling", "matched_qualities")
MATCHED_FIELDS = study_a.MODEL_FIELDS + LADDER_FIELDS[len(study_a.SPLIT_FIELDS):]


def matched_arm(cfg: StudyAConfig) -> bool:
    """Whether this profile needs the matched arm: only when the model reads a smaller size than JPEG codes."""
    return cfg.paper_distortion and cfg.image_size < cfg.source_size


def _resized(images: np.ndarray, size: int) -> np.ndarray:
    return coding.compress_many(images, None, out_size=size, workers=1)[0]


def _at_input(pixels: np.ndarray, references: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image: PSNR and SSIM of ``pixels`` against ``references`` (both at the input size)."""
    psnr = np.array([quality.psnr(r, p) for r, p in zip(references, pixels)])
    ssim = np.array([quality.ssim(r, p) for r, p in zip(references, pixels)])
    return psnr, ssim


@stage("study_a/input_distortion", params=lambda cfg, data_root: study_a._params(cfg, LADDER_FIELDS, data_root),
       reads=lambda cfg: [study_a.split_data.on(cfg)])
def input_distortion(cfg: StudyAConfig, data_root=None) -> dict:
    """Per part (reporting half, test folder) and nominal level: each image's PSNR and SSIM at the
    model's input size (the level coded at the stored size, then resized, against the resized
    original) beside those at the stored size: what the downsampling leaves of JPEG's error."""
    split = study_a.split_data(cfg, data_root)
    out = {}
    for part in study_a.SPLITS:
        images = split[f"x_{part}"]
        reference = _resized(images, cfg.image_size)
        for level in study_a.levels(cfg)[1:]:
            pixels, stats = coding.compress_many(images, "jpeg", int(level[1:]), out_size=cfg.image_size,
                                                      subsampling=cfg.jpeg_subsampling, workers=1)
            out[f"{part}_{level}_psnr_input"], out[f"{part}_{level}_ssim_input"] = _at_input(pixels, reference)
            out[f"{part}_{level}_psnr_stored"], out[f"{part}_{level}_ssim_stored"] = stats["psnr"], stats["ssim"]
    return out


@stage("study_a/matched_ladder", params=lambda cfg, data_root: study_a._params(cfg, LADDER_FIELDS, data_root),
       reads=lambda cfg: [study_a.split_data.on(cfg)])
def matched_ladder(cfg: StudyAConfig, data_root=None) -> dict:
    """For each of the paper's qualities: the JPEG quality which, applied at the model's input size,
    gives the mean PSNR there that the paper's quality gives at the stored size. Calibrated on the
    stopping half (it chooses an epoch, never scores), over every quality in ``matched_qualities``."""
    stop = study_a.split_data(cfg, data_root)["x_stop"]
    stored = coding.ladder_stats(stop, "jpeg", list(cfg.jpeg_qualities), subsampling=cfg.jpeg_subsampling, workers=1)
    small = coding.ladder_stats(_resized(stop, cfg.image_size), "jpeg", list(cfg.matched_qualities),
                                     subsampling=cfg.jpeg_subsampling, workers=1)
    candidates = np.array(cfg.matched_qualities)
    candidate_psnr = np.array([small[float(q)]["psnr"].mean() for q in candidates])
    out = {"paper_quality": np.array(cfg.jpeg_qualities), "candidates": candidates, "candidate_psnr": candidate_psnr}
    chosen, target, reached, target_ssim, reached_ssim = [], [], [], [], []
    for q in cfg.jpeg_qualities:
        goal = float(stored[float(q)]["psnr"].mean())
        best = int(candidates[np.argmin(np.abs(candidate_psnr - goal))])
        chosen.append(best)
        target.append(goal)
        reached.append(float(small[float(best)]["psnr"].mean()))
        target_ssim.append(float(stored[float(q)]["ssim"].mean()))
        reached_ssim.append(float(small[float(best)]["ssim"].mean()))
    out.update({"input_quality": np.array(chosen), "target_psnr": np.array(target), "reached_psnr": np.array(reached),
                "target_ssim": np.array(target_ssim), "reached_ssim": np.array(reached_ssim),
                "calibration_images": np.array(len(stop))})
    return out


@stage("study_a/matched_predictions", params=lambda cfg, data_root: study_a._params(cfg, MATCHED_FIELDS, data_root),
       reads=lambda cfg: [study_a.train_model.on(cfg), study_a.split_data.on(cfg), matched_ladder.on(cfg)])
def matched_predictions(cfg: StudyAConfig, data_root=None) -> dict:
    """Network outputs on the reporting half and the test folder at the matched ladder (named by the
    paper's level each matches), with each image's PSNR and SSIM at the input size; keyed like
    :func:`hdmann.studies.study_a.pipeline.predictions`, so every table and claim reads either arm."""
    model, _ = study_a.load_model(cfg, data_root)
    split, ladder = study_a.split_data(cfg, data_root), matched_ladder(cfg, data_root)
    out = {}
    for part in study_a.SPLITS:
        small = _resized(split[f"x_{part}"], cfg.image_size)
        out[f"{part}_labels"] = split[f"y_{part}"]
        out[f"{part}_original_outputs"] = train.predict(model, small).astype(np.float32)
        for name, values in coding.compress_many(small, None, workers=1)[1].items():
            out[f"{part}_original_{name}"] = values
        for paper_q, input_q in zip(ladder["paper_quality"], ladder["input_quality"]):
            pixels, stats = coding.compress_many(small, "jpeg", int(input_q), subsampling=cfg.jpeg_subsampling,
                                                      workers=1)
            level = f"q{int(paper_q)}"
            out[f"{part}_{level}_outputs"] = train.predict(model, pixels).astype(np.float32)
            for name, values in stats.items():
                out[f"{part}_{level}_{name}"] = values
    return out


def stage_calls(cfg: StudyAConfig) -> list:
    """The calls the chapters read: the input-size measurement, and where the arm exists, the ladder
    and every seed's outputs on it."""
    calls = [input_distortion.on(cfg)]
    if matched_arm(cfg):
        calls += [matched_ladder.on(cfg)] + [matched_predictions.on(c) for c in study_a.seed_configs(cfg)]
    return calls
