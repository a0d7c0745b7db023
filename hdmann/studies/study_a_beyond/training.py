"""Study A beyond the paper: the model stages. ``model`` (per training level, hypervector dimension,
left-out class and epoch budget): HD-MANN trained like Study A's; the model on originals at Study A's D
and budget *is* Study A's model, read from Study A's stage, not trained again. ``outputs``: a model's
outputs on every set. ``cross_entropy_model``: the same body with a softmax head."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hdmann.engine import cache, data
from hdmann.engine.stages import stage
from hdmann.methods import models, train
from hdmann.methods.memory import KeyMemory
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.images import (EVAL_PARTS, MIXED, STOP, _check_level, _params, _set_reads, eval_sets,
                                                  originals_index, training_images)


def budget(bcfg: StudyABeyondConfig, dims_sweep: bool = False, leave_out: bool = False) -> tuple[int, int]:
    """(max_epochs, patience) of the chapter's models: Study A's unless the config overrides it; the
    dimension sweep (``dim_max_epochs``, shared by every D) and the three-class models of the
    leave-one-out rows (``leave_out_max_epochs``) may each have their own, shorter one."""
    epochs = bcfg.max_epochs or bcfg.study_a.max_epochs
    patience = bcfg.study_a.patience if bcfg.patience is None else bcfg.patience
    own = bcfg.dim_max_epochs if dims_sweep else bcfg.leave_out_max_epochs if leave_out else None
    if own is not None:  # patience below the budget, so that early stopping can act within it
        epochs, patience = own, min(patience, max(own - 1, 0))
    return epochs, patience


def is_study_a_model(bcfg: StudyABeyondConfig, level: str, dim: int, leave_out: str | None,
                     dims_sweep: bool = False) -> bool:
    """True when the requested model is the one Study A trains (originals, its D, all four classes, its
    budget): the chapter then reuses Study A's cached model instead of training a copy."""
    return _is_study_a_model(bcfg, level, dim, leave_out, *budget(bcfg, dims_sweep, leave_out is not None))


def _is_study_a_model(bcfg, level, dim, leave_out, max_epochs, patience) -> bool:
    a = bcfg.study_a
    return (level == "original" and leave_out is None and dim == a.hypervector_dim
            and (max_epochs, patience) == (a.max_epochs, a.patience))


def _class_names(leave_out: str | None) -> list[str]:
    return [c for c in data.ISIC_CLASSES if c != leave_out]


def model_request(bcfg: StudyABeyondConfig, level: str, dim: int | None = None, leave_out: str | None = None,
                  dims_sweep: bool = False) -> tuple:
    """A chapter model's identity, checked: (level, dim, leave_out, max_epochs, patience), the
    arguments of :func:`trained_model` and :func:`outputs`."""
    _check_level(bcfg, level)
    if leave_out is not None and leave_out not in data.ISIC_CLASSES:
        raise ValueError(f"leave_out={leave_out!r} is not an isic4 class {data.ISIC_CLASSES}")
    if dims_sweep and leave_out is not None:
        raise ValueError("the dimension sweep trains all four classes: ask for leave_out=None")
    return (level, dim or bcfg.study_a.hypervector_dim, leave_out, *budget(bcfg, dims_sweep, leave_out is not None))


def _model_call(bcfg: StudyABeyondConfig, level, dim, leave_out, max_epochs, patience):
    """The stage call of a chapter model: Study A's own stage when the request is its model."""
    if _is_study_a_model(bcfg, level, dim, leave_out, max_epochs, patience):
        return study_a.train_model.on(bcfg.study_a)
    return trained_model.on(bcfg, level, dim, leave_out, max_epochs, patience)


_MODEL_FIELDS = tuple(f for f in study_a.MODEL_FIELDS if f not in ("hypervector_dim", "max_epochs", "patience"))


@stage("study_a_beyond/model", params=lambda bcfg, data_root: _params(bcfg, _MODEL_FIELDS, (), data_root),
       reads=lambda bcfg, level, dim, leave_out, max_epochs, patience: _set_reads(bcfg, level))
def trained_model(bcfg: StudyABeyondConfig, level: str, dim: int, leave_out: str | None, max_epochs: int,
                  patience: int, data_root=None, *, folder: Path) -> None:
    """HD-MANN trained at one JPEG level (or ``mixed``), dimension ``dim``, optionally without the
    class ``leave_out``, with early stopping on the stopping half of the validation part at the
    same level (originals for ``mixed``). The folder holds model.keras, keys.npy and the history with epoch times."""
    import keras

    # the level was checked against train_levels by model_request, which asks for this stage; the list
    # itself is not in this stage's key (adding a level retrains nothing), so the body does not read it
    cfg = bcfg.study_a.replace(hypervector_dim=dim, max_epochs=max_epochs, patience=patience)
    split, sets = study_a.split_data(cfg, data_root), eval_sets(bcfg, data_root)
    names = _class_names(leave_out)
    memory = KeyMemory.for_classes(names, dim, cfg.key_seed)
    remap = np.array([names.index(c) if c in names else -1 for c in data.ISIC_CLASSES])
    y_train, y_val = remap[split["y_train"]], remap[sets[f"{STOP}_labels"]]
    keep_train, keep_val = y_train >= 0, y_val >= 0
    val_level = "original" if level == MIXED else level
    with train.seeded(cfg.train_seed):
        model = models.hdmann_cnn(cfg)
        model.compile(optimizer=keras.optimizers.AdamW(cfg.learning_rate, weight_decay=cfg.weight_decay),
                      loss="mse")
    info = train.fit(model, training_images(bcfg, level, data_root)[keep_train], memory.targets(y_train[keep_train]),
                     sets[f"{STOP}_{val_level}"][keep_val], memory.targets(y_val[keep_val]),
                     batch_size=cfg.batch_size, max_epochs=cfg.max_epochs, patience=cfg.patience,
                     seed=cfg.train_seed, label=f"beyond: trained at {level}, D={dim}, "
                                                f"{'all classes' if leave_out is None else 'without ' + leave_out}, "
                                                f"seed {cfg.train_seed}")
    model.save(folder / "model.keras")
    np.save(folder / "keys.npy", memory.keys)
    (folder / "meta.json").write_text(json.dumps({"values": {**info, "classes": names}}))


def train_hdmann(bcfg: StudyABeyondConfig, level: str, dim: int | None = None, leave_out: str | None = None,
                 data_root=None, dims_sweep: bool = False) -> Path:
    """The folder of a chapter model (:func:`trained_model`), ``dim`` defaulting to Study A's and
    ``dims_sweep`` choosing the dimension sweep's budget. Study A's own model is returned, not
    retrained, when the request is that model (:func:`is_study_a_model`)."""
    return _model_call(bcfg, *model_request(bcfg, level, dim, leave_out, dims_sweep)).compute(data_root)


def _load(folder: Path):
    return models.load(folder / "model.keras"), cache.load_entry(folder), np.load(folder / "keys.npy")


@stage("study_a_beyond/outputs",
       reads=lambda bcfg, level, dim, leave_out, max_epochs, patience: (
           [_model_call(bcfg, level, dim, leave_out, max_epochs, patience)] + _set_reads(bcfg)))
def outputs(bcfg: StudyABeyondConfig, level: str, dim: int, leave_out: str | None, max_epochs: int, patience: int,
            data_root=None) -> dict:
    """A chapter model's outputs on the validation part and test folder at every level and on the
    training originals, with its keys, class names and epoch times."""
    model, info, keys = _load(_model_call(bcfg, level, dim, leave_out, max_epochs, patience).compute(data_root))
    split, sets = study_a.split_data(bcfg.study_a, data_root), eval_sets(bcfg, data_root)
    out = {"keys": keys, "classes": info.get("classes", list(data.ISIC_CLASSES)),  # Study A's: all four
           "epoch_seconds": info["epoch_seconds"], "epoch_cpu_seconds": info.get("epoch_cpu_seconds", []),
           "epochs_run": info["epochs_run"], "best_epoch": info["best_epoch"]}
    for part in EVAL_PARTS:
        out[f"{part}_labels"] = sets[f"{part}_labels"]
        for lv in study_a.levels(bcfg.study_a):
            out[f"{part}_{lv}"] = train.predict(model, sets[f"{part}_{lv}"]).astype(np.float32)
    orig = originals_index(split["source_train"])
    out["train_originals"] = train.predict(model, split["x_train"][orig]).astype(np.float32)
    out["train_originals_labels"] = split["y_train"][orig]
    return out


def hdmann_outputs(bcfg: StudyABeyondConfig, level: str, dim: int | None = None, leave_out: str | None = None,
                   data_root=None, dims_sweep: bool = False) -> dict:
    """:func:`outputs` of the model :func:`train_hdmann` names."""
    return outputs(bcfg, *model_request(bcfg, level, dim, leave_out, dims_sweep), data_root=data_root)


# The body builds HD-MANN's whole network and cuts its hypervector layer off: that layer is built (its
# activation named, its weights drawn from the seeded generator) before the softmax head, so D moves the
# head's initial weights and belongs in this key.
_CE_FIELDS = tuple(f for f in _MODEL_FIELDS if f != "key_seed") + ("hypervector_dim",)


@stage("study_a_beyond/cross_entropy_model",
       params=lambda bcfg, data_root: _params(bcfg, _CE_FIELDS, (), data_root, {"budget": budget(bcfg)}),
       reads=lambda bcfg: _set_reads(bcfg))
def cross_entropy_model(bcfg: StudyABeyondConfig, data_root=None, *, folder: Path) -> None:
    """The baseline for out-of-distribution scores: HD-MANN's body with a 4-way softmax head,
    trained with cross-entropy on originals under the same epoch budget as Study A's model."""
    import keras

    epochs, patience = budget(bcfg)
    cfg = bcfg.study_a.replace(max_epochs=epochs, patience=patience)
    split, sets = study_a.split_data(cfg, data_root), eval_sets(bcfg, data_root)
    with train.seeded(cfg.train_seed):
        body = models.hdmann_cnn(cfg)  # Table I up to the 1000-unit layer; a 4-way softmax replaces the hypervector
        head = keras.layers.Dense(len(data.ISIC_CLASSES), activation="softmax", name="softmax")
        model = keras.Model(body.inputs, head(body.get_layer("dense").output), name="ce_cnn")
        model.compile(optimizer=keras.optimizers.AdamW(cfg.learning_rate, weight_decay=cfg.weight_decay),
                      loss="categorical_crossentropy")
    eye = np.eye(len(data.ISIC_CLASSES), dtype=np.float32)
    info = train.fit(model, split["x_train"], eye[split["y_train"]], sets[f"{STOP}_original"], eye[sets[f"{STOP}_labels"]],
                     batch_size=cfg.batch_size, max_epochs=cfg.max_epochs, patience=cfg.patience,
                     seed=cfg.train_seed)
    model.save(folder / "model.keras")
    np.save(folder / "keys.npy", np.zeros((0, 0), np.float32))
    (folder / "meta.json").write_text(json.dumps({"values": {**info, "classes": list(data.ISIC_CLASSES)}}))
