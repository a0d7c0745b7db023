"""Study A beyond the paper: the out-of-distribution stages. ``ood_sets``: isic-other's new classes,
BreastMNIST and mammogram patches; ``outputs_on_every_set``: the frozen Study A model's (or the softmax CNN's)
outputs on every set, flipped and far sets included."""
from __future__ import annotations

import numpy as np

from hdmann.engine import data
from hdmann.engine.stages import stage
from hdmann.methods import models, train
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.images import STOP, _level_pixels, _params, _set_reads, eval_sets, originals_index
from hdmann.studies.study_a_beyond.sources import (BREASTMNIST, list_isic_other, load_breastmnist, load_isic_other,
                                                   load_mias_patches)
from hdmann.studies.study_a_beyond.training import cross_entropy_model


OOD_FIELDS = ("new_classes", "addition_levels", "max_new_per_class", "max_far_images", "mias_patches",
              "mias_patch_size", "sample_seed")


def _ood_params(bcfg: StudyABeyondConfig, data_root) -> dict:
    root = data.resolve_data_root(data_root)
    far = [root / BREASTMNIST / "breastmnist.npz"] if (root / BREASTMNIST).is_dir() else []  # absent: said when built
    if (root / "mias").is_dir():
        mias = data.load_mias(root)
        far += [mias.path(n) for n in mias.names] + mias.table_files()
    return _params(bcfg, ("image_size", "source_size", "jpeg_subsampling"), OOD_FIELDS, data_root,
                   {"other": data.fingerprint_files(p for p, _ in list_isic_other(bcfg.new_classes, data_root)),
                    "far": data.fingerprint_files(far)})


@stage("study_a_beyond/ood_sets", params=_ood_params)
def ood_sets(bcfg: StudyABeyondConfig, data_root=None) -> dict:
    """isic-other's new classes at the addition levels, BreastMNIST and mammogram patches, at model size."""
    cfg = bcfg.study_a
    new = load_isic_other(bcfg.new_classes, cfg.source_size, data_root, bcfg.max_new_per_class, bcfg.sample_seed)
    out = {"new_labels": new.labels}
    for level in bcfg.addition_levels:
        out[f"new_{level}"] = _level_pixels(new.images, level, cfg)
    out["far_breastmnist"] = load_breastmnist(cfg.image_size, data_root, bcfg.max_far_images, bcfg.sample_seed)
    out["far_mias"] = load_mias_patches(bcfg.mias_patches if bcfg.max_far_images is None
                                        else min(bcfg.mias_patches, bcfg.max_far_images),
                                        bcfg.mias_patch_size, cfg.image_size, data_root, bcfg.sample_seed)
    return out


FROZEN_MODELS = ("study_a", "cross_entropy")


def _frozen_model_call(bcfg: StudyABeyondConfig, which: str):
    if which == "study_a":
        return study_a.train_model.on(bcfg.study_a)
    if which == "cross_entropy":
        return cross_entropy_model.on(bcfg)
    raise ValueError(f"which={which!r}: use one of {FROZEN_MODELS}")


@stage("study_a_beyond/outputs_on_every_set",
       reads=lambda bcfg, which: [_frozen_model_call(bcfg, which), ood_sets.on(bcfg)] + _set_reads(bcfg))
def outputs_on_every_set(bcfg: StudyABeyondConfig, which: str, data_root=None) -> dict:
    """Outputs of one model on every evaluation set, the flipped validation part and the
    out-of-distribution sets. ``which``: ``study_a`` (the frozen Study A model) or ``cross_entropy``
    (the softmax CNN of the same body and budget; its outputs are probabilities)."""
    folder = _frozen_model_call(bcfg, which).compute(data_root)
    keys = study_a.key_memory(bcfg.study_a).keys if which == "study_a" else np.zeros((0, 0), np.float32)
    model = models.load(folder / "model.keras")
    split, sets, ood = study_a.split_data(bcfg.study_a, data_root), eval_sets(bcfg, data_root), ood_sets(bcfg, data_root)
    out = {name: train.predict(model, images).astype(np.float32)
           for name, images in list(sets.items()) + list(ood.items())
           if not name.endswith("labels") and not name.startswith(f"{STOP}_")}
    orig = originals_index(split["source_train"])
    out["train_originals"] = train.predict(model, split["x_train"][orig]).astype(np.float32)
    out["train_originals_labels"] = split["y_train"][orig]
    out["val_labels"], out["test_labels"], out["new_labels"] = sets["val_labels"], sets["test_labels"], ood["new_labels"]
    out["keys"] = keys
    return out
