"""Study A beyond the paper: the image stages. ``train_set`` (per compressed training level, or
``mixed``): Study A's augmented training part JPEG'd at the stored 180 px, then resized, as Study A
tests; ``eval_sets``: the validation part and test folder at every Study A level."""
from __future__ import annotations

import numpy as np

from hdmann.engine import coding
from hdmann.engine.stages import stage
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig

MIXED = "mixed"
EVAL_PARTS = ("val", "test")  # scored: the validation part's reporting half and the test folder
STOP = "stop"  # the validation part's stopping half: early stopping only


def _fields(obj, names) -> dict:
    return {n: getattr(obj, n) for n in names}


def _params(bcfg: StudyABeyondConfig, a_fields, own_fields, data_root, extra=None) -> dict:
    base = study_a._params(bcfg.study_a, a_fields, data_root)  # fields of Study A and the isic4 fingerprint
    return {**base, "beyond": _fields(bcfg, own_fields), **(extra or {})}


def _level_pixels(images: np.ndarray, level: str, cfg) -> np.ndarray:
    codec, q = (None, 0) if level == "original" else ("jpeg", int(level[1:]))
    return coding.compress_many(images, codec, q, out_size=cfg.image_size,
                                     subsampling=cfg.jpeg_subsampling, workers=1)[0]


def originals_index(source_train: np.ndarray) -> np.ndarray:
    """Rows of the training part that are original images, not augmented copies (the first row of
    each source image: :func:`hdmann.methods.train.augment_to` keeps originals first)."""
    _, first = np.unique(source_train, return_index=True)
    return np.sort(first)


def _mixed_levels(bcfg: StudyABeyondConfig, n: int) -> np.ndarray:
    return np.random.default_rng(bcfg.mixed_seed).choice(study_a.levels(bcfg.study_a), n)


def training_levels(bcfg: StudyABeyondConfig) -> list[str]:
    return list(bcfg.train_levels) + ([MIXED] if bcfg.mixed_training else [])


def _check_level(bcfg: StudyABeyondConfig, level: str) -> None:
    if level not in training_levels(bcfg):
        raise ValueError(f"level {level!r} is not a training level of this config: {training_levels(bcfg)}")


# --------------------------------------------------------------------------------------------
# stages: images
# --------------------------------------------------------------------------------------------
def _train_set_params(bcfg: StudyABeyondConfig, data_root, level: str) -> dict:
    mixed = level == MIXED  # only the mixed part reads the level list and its seed
    return _params(bcfg, study_a.SPLIT_FIELDS + (("jpeg_subsampling", "jpeg_qualities") if mixed else ("jpeg_subsampling",)),
                   ("mixed_seed",) if mixed else (), data_root)


@stage("study_a_beyond/train_set", params=_train_set_params,
       reads=lambda bcfg, level: [study_a.split_data.on(bcfg.study_a)])
def train_set(bcfg: StudyABeyondConfig, level: str, data_root=None) -> dict:
    """Study A's augmented training part at one compressed training level (or ``mixed``: each
    image at a level drawn with ``mixed_seed``), at model size.

    The part is rebuilt at the stored size with Study A's seeds (Study A keeps it only at model
    size) and checked against Study A's, so that JPEG is applied at 180 px and then resized, exactly
    as the evaluation images are. One entry per level, so that adding a level trains only it."""
    if level == "original":
        raise ValueError("the training part on originals is Study A's own split (study_a.split_data), "
                         "not a stage of this chapter")
    cfg = bcfg.study_a
    split = study_a.split_data(cfg, data_root)
    _, s = study_a.augmented_train_split(cfg, data_root)
    if not (np.array_equal(s.source_train, split["source_train"])
            and np.array_equal(_level_pixels(s.x_train, "original", cfg), split["x_train"])):
        raise RuntimeError("the training part rebuilt at the stored size differs from Study A's split: "
                           "hdmann.studies.study_a.pipeline.split_data changed; update study_a_beyond.train_set to match")
    if level != MIXED:
        return {"x": _level_pixels(s.x_train, level, cfg)}
    chosen = _mixed_levels(bcfg, len(s.x_train))
    mixed = np.zeros_like(split["x_train"])
    for lv in np.unique(chosen):
        mixed[chosen == lv] = _level_pixels(s.x_train[chosen == lv], lv, cfg)
    return {"x": mixed, "levels": chosen.astype(str)}


@stage("study_a_beyond/eval_sets",
       params=lambda bcfg, data_root: _params(bcfg, study_a.SPLIT_FIELDS + ("jpeg_qualities", "jpeg_subsampling"),
                                              (), data_root),
       reads=lambda bcfg: [study_a.split_data.on(bcfg.study_a)])
def eval_sets(bcfg: StudyABeyondConfig, data_root=None) -> dict:
    """The validation part's reporting half and the test folder at every Study A level, at model
    size, the reporting half mirrored (a change the model was trained to ignore), and the stopping
    half at every level (what each chapter model's early stopping watches, never scored)."""
    cfg = bcfg.study_a
    split = study_a.split_data(cfg, data_root)
    out = {}
    for part in EVAL_PARTS + (STOP,):
        for level in study_a.levels(cfg):
            out[f"{part}_{level}"] = _level_pixels(split[f"x_{part}"], level, cfg)
        out[f"{part}_labels"] = split[f"y_{part}"]
    out["val_flipped"] = out["val_original"][:, :, ::-1]
    return out


def training_images(bcfg: StudyABeyondConfig, level: str, data_root=None) -> np.ndarray:
    """The augmented training part at ``level``, at model size (originals: Study A's own)."""
    if level == "original":
        return study_a.split_data(bcfg.study_a, data_root)["x_train"]
    return train_set(bcfg, level, data_root)["x"]


def _set_reads(bcfg: StudyABeyondConfig, level: str = "original") -> list:
    """The stages a model trained at ``level`` reads its images from."""
    return ([study_a.split_data.on(bcfg.study_a), eval_sets.on(bcfg)]
            + ([] if level == "original" else [train_set.on(bcfg, level)]))


def image_sets(bcfg: StudyABeyondConfig, data_root=None) -> dict:
    """Every set of the chapter in one dict (``train_<level>``, ``mixed_levels``, ``val_<level>``,
    ``test_<level>``, labels): for a reader of the cache; the stages read their parts directly."""
    split = study_a.split_data(bcfg.study_a, data_root)
    out = dict(eval_sets(bcfg, data_root))
    for level in training_levels(bcfg):
        out[f"train_{level}"] = training_images(bcfg, level, data_root)
    if bcfg.mixed_training:
        out["mixed_levels"] = train_set(bcfg, MIXED, data_root)["levels"]
    out["y_train"], out["source_train"] = split["y_train"], split["source_train"]
    return out
