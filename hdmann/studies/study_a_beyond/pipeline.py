"""Study A beyond the paper: the pipeline (cached stages). Tables and verdicts live in
:mod:`hdmann.studies.study_a_beyond.report`, so rewording the chapter never retrains a model.

Stages (:mod:`hdmann.engine.stages`: each keyed by the config fields it reads, its code and the keys of the
stages it reads, so adding a training level or a dimension trains only it):

* ``train_set`` (per compressed training level, or ``mixed``): Study A's augmented training part
  JPEG'd at the stored 180 px, then resized, as Study A tests; ``eval_sets``: the validation part
  and test folder at every Study A level.
* ``model`` (per training level, hypervector dimension, left-out class and epoch budget): HD-MANN
  trained like Study A's. The model on originals at Study A's D and budget *is* Study A's model: it
  is read from Study A's stage, not trained again. ``outputs``: a model's outputs on every set.
* ``cross_entropy_model``: the same body with a softmax head; ``ood_sets``; ``everything``: the
  frozen Study A model's (or the softmax CNN's) outputs on every set, flipped and far sets included.
* ``class_addition``, ``saliency``, ``colour_baseline``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hdmann.engine import cache, coding, data
from hdmann.engine.stages import stage
from hdmann.methods import train
from hdmann.methods.memory import KeyMemory
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig

ISIC_OTHER = "isic-other"
BREASTMNIST = "breastmnist"
MIXED = "mixed"
EVAL_PARTS = ("val", "test")  # scored: the validation part's reporting half and the test folder
STOP = "stop"  # the validation part's stopping half: early stopping only


# --------------------------------------------------------------------------------------------
# data the existing loaders do not cover (isic-other, BreastMNIST, mammogram patches)
# --------------------------------------------------------------------------------------------
def list_isic_other(classes, data_root=None) -> list[tuple[Path, int]]:
    """(file, index into ``classes``) of isic-other, train and test folders pooled (its README: the
    source's test folder is tiny and uneven), sorted by class then name."""
    root = data.dataset_dir(ISIC_OTHER, data_root)
    items = []
    for label, cls in enumerate(classes):
        files = []
        for split in ("train", "test"):
            folder = root / split / cls
            if folder.is_dir():
                files += [p for p in folder.iterdir() if p.suffix.lower() in data.IMAGE_SUFFIXES]
        if not files:
            raise data.DataError(f"isic-other has no images of {cls!r} under {str(root)!r} "
                                 "({train,test}/<class>/*.png expected; see its README).")
        items += [(p, label) for p in sorted(files, key=lambda p: p.name)]
    return items


def load_isic_other(classes, size: int, data_root=None, max_per_class=None, seed: int = 0) -> data.ImageSet:
    items = list_isic_other(classes, data_root)
    labels = np.array([label for _, label in items])
    keep = data.take_per_class(labels, max_per_class, seed)
    images = np.stack([data.read_image(items[i][0], "RGB", size) for i in keep])
    return data.ImageSet(images, labels[keep], [items[i][0].stem for i in keep], tuple(classes))


def breastmnist_file(data_root=None) -> Path:
    return data.dataset_dir(BREASTMNIST, data_root) / "breastmnist.npz"


def load_breastmnist(size: int, data_root=None, limit=None, seed: int = 0) -> np.ndarray:
    """BreastMNIST's test split (ultrasound, 28 px grey) as RGB uint8 at ``size``: a far
    out-of-distribution set."""
    path = breastmnist_file(data_root)
    if not path.is_file():
        raise data.DataError(f"{str(path)!r} is missing; see the breastmnist README for its source.")
    data.note_read(path)
    with np.load(path) as npz:
        if "test_images" not in npz.files:
            raise data.DataError(f"{str(path)!r} has no 'test_images' (keys: {npz.files}).")
        grey = npz["test_images"]
    if limit is not None and limit < len(grey):
        grey = grey[np.sort(np.random.default_rng(seed).choice(len(grey), limit, replace=False))]
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    return coding.compress_many(rgb, None, out_size=size, workers=1)[0]


def load_mias_patches(count: int, patch: int, size: int, data_root=None, seed: int = 0) -> np.ndarray:
    """One square patch per film (seeded position inside the breast's bounding box of non-dark
    pixels), grey repeated to RGB and resized to ``size``: a far out-of-distribution set."""
    films = data.load_mias(data_root)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(films), min(count, len(films)), replace=False))
    out = []
    for i in pick:
        film = data.read_image(films.path(films.names[i]), "L")
        rows, cols = np.nonzero(film > 40)
        r0, r1 = (rows.min(), rows.max()) if len(rows) else (0, film.shape[0])
        c0, c1 = (cols.min(), cols.max()) if len(cols) else (0, film.shape[1])
        top = int(rng.integers(r0, max(r0 + 1, min(r1, film.shape[0]) - patch + 1)))
        left = int(rng.integers(c0, max(c0 + 1, min(c1, film.shape[1]) - patch + 1)))
        crop = film[top:top + patch, left:left + patch]
        crop = np.pad(crop, ((0, patch - crop.shape[0]), (0, patch - crop.shape[1])))
        out.append(np.repeat(crop[..., None], 3, axis=-1))
    return coding.compress_many(np.stack(out), None, out_size=size, workers=1)[0]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# stages: models and their outputs
# --------------------------------------------------------------------------------------------
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

    from hdmann.methods import models

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
    from hdmann.methods import models

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
# head's initial weights. hdmann.engine.reads caught the read; until then D was not in this key.
_CE_FIELDS = tuple(f for f in _MODEL_FIELDS if f != "key_seed") + ("hypervector_dim",)


@stage("study_a_beyond/cross_entropy_model",
       params=lambda bcfg, data_root: _params(bcfg, _CE_FIELDS, (), data_root, {"budget": budget(bcfg)}),
       reads=lambda bcfg: _set_reads(bcfg))
def cross_entropy_model(bcfg: StudyABeyondConfig, data_root=None, *, folder: Path) -> None:
    """The baseline for out-of-distribution scores: HD-MANN's body with a 4-way softmax head,
    trained with cross-entropy on originals under the same epoch budget as Study A's model."""
    import keras

    from hdmann.methods import models

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


@stage("study_a_beyond/everything",
       reads=lambda bcfg, which: [_frozen_model_call(bcfg, which), ood_sets.on(bcfg)] + _set_reads(bcfg))
def model_outputs_on_everything(bcfg: StudyABeyondConfig, which: str, data_root=None) -> dict:
    """Outputs of one model on every evaluation set, the flipped validation part and the
    out-of-distribution sets. ``which``: ``study_a`` (the frozen Study A model) or ``cross_entropy``
    (the softmax CNN of the same body and budget; its outputs are probabilities)."""
    from hdmann.methods import models

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


ADDITION_FIELDS = ("new_classes", "addition_levels", "held_out_fraction", "shots", "shot_draws", "probe_draws",
                   "leave_out_classes", "probe_c", "addition_rules", "sample_seed")


def _addition_reads(bcfg: StudyABeyondConfig) -> list:
    return ([model_outputs_on_everything.on(bcfg, "study_a")]
            + [outputs.on(bcfg, *model_request(bcfg, "original", None, cls)) for cls in bcfg.leave_out_classes])


@stage("study_a_beyond/class_addition",
       params=lambda bcfg, data_root: {"beyond": _fields(bcfg, ADDITION_FIELDS)}, reads=_addition_reads)
def class_addition(bcfg: StudyABeyondConfig, data_root=None) -> dict:
    """Item 3. Add each new class to the frozen Study A model by writing a fifth key from the outputs
    of k of its images, under each of ``addition_rules``; and, inside isic4, add each left-out class
    to a three-class model the same way. Beside each: a linear probe (logistic regression on the
    frozen outputs) given the same images."""
    rows = []
    frozen = model_outputs_on_everything(bcfg, "study_a", data_root)
    rng = np.random.default_rng(bcfg.sample_seed)
    for c, cls in enumerate(bcfg.new_classes):
        members = np.flatnonzero(frozen["new_labels"] == c)
        perm = rng.permutation(members)
        n_held = max(1, int(round(bcfg.held_out_fraction * len(members))))
        held, pool = np.sort(perm[:n_held]), perm[n_held:]
        new_at = {lv: frozen[f"new_{lv}"][held] for lv in bcfg.addition_levels}
        rows += _add_rows(bcfg, "isic-other", cls, frozen["keys"], frozen["new_original"][pool], new_at,
                          {lv: frozen[f"val_{lv}"] for lv in bcfg.addition_levels}, frozen["val_labels"],
                          frozen["train_originals"], frozen["train_originals_labels"], rng)
    for cls in bcfg.leave_out_classes:
        out = hdmann_outputs(bcfg, "original", None, cls, data_root)
        c = data.ISIC_CLASSES.index(cls)
        names = list(out["classes"])
        remap = np.array([names.index(x) if x in names else len(names) for x in data.ISIC_CLASSES])
        y_val = remap[out["val_labels"]]  # the left-out class becomes index 3 (the added key)
        y_tr = out["train_originals_labels"]
        pool = out["train_originals"][y_tr == c]
        rest = y_tr != c
        held_mask = y_val == len(names)
        rows += _add_rows(bcfg, "isic4 leave-one-out", cls, out["keys"], pool,
                          {lv: out[f"val_{lv}"][held_mask] for lv in bcfg.addition_levels},
                          {lv: out[f"val_{lv}"][~held_mask] for lv in bcfg.addition_levels}, y_val[~held_mask],
                          out["train_originals"][rest], remap[y_tr[rest]], rng)
    return {"rows": rows}


def split_rule(rule: str) -> tuple[str, str]:
    """'mean-l2' -> ('mean', 'l2'): how the key is bundled, and the distance all five keys are compared by."""
    bundle, _, distance = rule.partition("-")
    return bundle, distance


def _add_rows(bcfg, source, cls, keys, pool, new_at, old_at, old_labels, probe_x, probe_y, rng) -> list[dict]:
    """Accuracy on the new class's held-out images and on the old classes' images, per k and level,
    averaged over draws of the k support images, for the key written by each rule and for the probe.
    Also per rule: the share of the support outputs whose nearest key is the one written from them,
    and the old classes' accuracy before the addition under the rule's distance (so that the cost
    of the addition is told apart from the cost of changing the distance)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_old = len(keys)
    settings = [k for k in bcfg.shots if k < len(pool)] + [len(pool)]
    methods = list(bcfg.addition_rules) + ["probe"]
    before = {}
    for rule in bcfg.addition_rules:
        _, metric = split_rule(rule)
        four = KeyMemory(keys.shape[1], 0)
        four.keys, four.labels = keys.astype(np.float32).copy(), [str(i) for i in range(n_old)]
        before[rule] = {lv: float(np.mean(four.predict(old_at[lv], metric) == old_labels)) for lv in old_at}
    # one probe, refitted from its last solution: the regularised problem is strictly convex, so the warm
    # start only shortens the path to the same optimum (about 350 L-BFGS steps a cold fit in quick)
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=bcfg.probe_c, class_weight="balanced", max_iter=1000,
                                                               warm_start=True))
    rows = []
    for k in settings:
        draws = 1 if k == len(pool) else bcfg.shot_draws
        hits = {(m, lv, part): [] for m in methods for lv in new_at for part in ("new", "old")}
        self_nearest = {rule: [] for rule in bcfg.addition_rules}
        for d in range(draws):
            support = pool[rng.choice(len(pool), k, replace=False)] if k < len(pool) else pool
            for rule in bcfg.addition_rules:
                bundle, metric = split_rule(rule)
                memory = KeyMemory(keys.shape[1], 0)
                memory.keys, memory.labels = keys.astype(np.float32).copy(), [str(i) for i in range(n_old)]
                memory.add_class_from_outputs(cls, support, bundle)
                self_nearest[rule].append(np.mean(memory.predict(support, metric) == n_old))
                for lv in new_at:
                    hits[(rule, lv, "new")].append(np.mean(memory.predict(new_at[lv], metric) == n_old))
                    hits[(rule, lv, "old")].append(np.mean(memory.predict(old_at[lv], metric) == old_labels))
            if d < min(draws, bcfg.probe_draws):
                probe.fit(np.vstack([probe_x, support]), np.concatenate([probe_y, np.full(k, n_old)]))
                for lv in new_at:
                    hits[("probe", lv, "new")].append(np.mean(probe.predict(new_at[lv]) == n_old))
                    hits[("probe", lv, "old")].append(np.mean(probe.predict(old_at[lv]) == old_labels))
        for (method, lv, part), values in hits.items():
            if part == "old":
                continue
            rows.append({"source": source, "class": cls, "k": int(k), "all": bool(k == len(pool)),
                         "method": method, "level": lv, "draws": len(values),
                         "new_accuracy": float(np.mean(values)), "new_draw_sd": float(np.std(values)),
                         "old_accuracy": float(np.mean(hits[(method, lv, "old")])),
                         "old_before": before[method][lv] if method in before else float("nan"),
                         "self_nearest": float(np.mean(self_nearest[method])) if method in self_nearest
                         else float("nan"),
                         "n_new": int(len(new_at[lv])), "n_old": int(len(old_at[lv]))})
    return rows


@stage("study_a_beyond/saliency",
       params=lambda bcfg, data_root: {"distance": bcfg.study_a.distance,
                                       "beyond": _fields(bcfg, ("saliency_images", "grid_images", "top_share",
                                                                "sample_seed"))},
       reads=lambda bcfg: [study_a.train_model.on(bcfg.study_a), eval_sets.on(bcfg)])
def saliency_agreement(bcfg: StudyABeyondConfig, data_root=None) -> dict:
    """Item 2. Grad-CAM (last conv layer) and input gradients of the frozen Study A model, explained
    toward the key it predicts on the uncompressed image, at every level and for the mirrored image
    (mirrored back): agreement with the uncompressed map per image, and the maps of a few images."""
    from hdmann.methods import saliency

    cfg = bcfg.study_a
    model, _ = study_a.load_model(cfg, data_root)
    keys = study_a.key_memory(cfg).keys
    sets = eval_sets(bcfg, data_root)
    n = len(sets["val_original"])
    pick = np.arange(n) if bcfg.saliency_images is None or bcfg.saliency_images >= n else np.sort(
        np.random.default_rng(bcfg.sample_seed).choice(n, bcfg.saliency_images, replace=False))
    outputs_ = train.predict(model, sets["val_original"][pick])
    target = study_a.key_memory(cfg).predict(outputs_, cfg.distance)
    out = {"pick": pick, "target": target}
    references = ["flipped"] + study_a.levels(cfg)
    for method in ("grad_cam", "input_gradients"):
        base = saliency.hypervector_maps(model, sets["val_original"][pick], keys, target, method)
        for ref in references:
            if ref == "flipped":
                maps = saliency.hypervector_maps(model, sets["val_flipped"][pick], keys, target, method)[:, :, ::-1]
            else:
                maps = base if ref == "original" else saliency.hypervector_maps(
                    model, sets[f"val_{ref}"][pick], keys, target, method)
            out[f"{method}_{ref}_rank"] = np.array([saliency.rank_agreement(a, b) for a, b in zip(base, maps)])
            out[f"{method}_{ref}_top"] = np.array([saliency.top_overlap(a, b, bcfg.top_share)
                                                   for a, b in zip(base, maps)])
            out[f"{method}_{ref}_grid"] = maps[: bcfg.grid_images]
    out["grid_images"] = np.stack([sets[f"val_{lv}"][pick[: bcfg.grid_images]] for lv in study_a.levels(cfg)])
    return out


def thumbnails(images: np.ndarray, size: int) -> np.ndarray:
    """Mean colour over a size x size grid of blocks, scaled to [0, 1]: what a colour-only model sees."""
    n, h, w, c = images.shape
    if h % size or w % size:
        raise ValueError(f"images of {h}x{w} do not split into a {size}x{size} grid of blocks")
    blocks = images.reshape(n, size, h // size, size, w // size, c).astype(np.float32)
    return blocks.mean(axis=(2, 4)).reshape(n, -1) / 255.0


@stage("study_a_beyond/colour_baseline",
       params=lambda bcfg, data_root: {"beyond": _fields(bcfg, ("thumbnail_size", "colour_c"))},
       reads=lambda bcfg: _set_reads(bcfg))
def colour_baseline(bcfg: StudyABeyondConfig, data_root=None) -> dict:
    """Item 6. Logistic regression on tiny colour thumbnails, trained on the same (augmented)
    training part as HD-MANN, tested on the validation part and the test folder at every level."""
    from sklearn.linear_model import LogisticRegression

    split, sets = study_a.split_data(bcfg.study_a, data_root), eval_sets(bcfg, data_root)
    clf = LogisticRegression(C=bcfg.colour_c, max_iter=2000)
    clf.fit(thumbnails(split["x_train"], bcfg.thumbnail_size), split["y_train"])
    out = {}
    for part in EVAL_PARTS:
        out[f"{part}_labels"] = sets[f"{part}_labels"]
        for lv in study_a.levels(bcfg.study_a):
            out[f"{part}_{lv}"] = clf.predict(thumbnails(sets[f"{part}_{lv}"], bcfg.thumbnail_size))
    return out


def seed_configs(bcfg: StudyABeyondConfig) -> list[StudyABeyondConfig]:
    """The chapter's config once per training seed of Study A (:func:`hdmann.studies.study_a.pipeline.seed_configs`):
    the train x test matrix, whose verdicts are stated across seeds, trains each row once per seed
    (its originals row is then Study A's model of that seed). The first is ``bcfg`` itself."""
    return [bcfg.replace(study_a=c) for c in study_a.seed_configs(bcfg.study_a)]


def probe_seed_configs(bcfg: StudyABeyondConfig) -> list[StudyABeyondConfig]:
    """:func:`seed_configs` for the probes of the frozen Study A model (drift, saliency, class addition,
    out-of-distribution scores), whose verdicts are also stated across seeds: each probes the Study A
    model of its seed, which the matrix has trained already, so a seed costs no training. Past the
    first seed, class addition leaves out the left-out-class rows (each would train a three-class model
    per seed); the chapter's tables show the first seed's, the verdicts every seed's."""
    configs = seed_configs(bcfg)
    return configs[:1] + [b.replace(leave_out_classes=()) for b in configs[1:]]


def stage_calls(bcfg: StudyABeyondConfig) -> list:
    """Every stage the chapter reads (its study's ``__init__`` declares it to the graph)."""
    calls = [outputs.on(b, *model_request(b, level)) for b in seed_configs(bcfg) for level in training_levels(b)]
    calls += [outputs.on(bcfg, *model_request(bcfg, "original", dim, None, dims_sweep=True)) for dim in bcfg.dims]
    calls += [model_outputs_on_everything.on(bcfg, which) for which in FROZEN_MODELS]
    calls += [call for b in probe_seed_configs(bcfg)
              for call in (model_outputs_on_everything.on(b, "study_a"), class_addition.on(b), saliency_agreement.on(b))]
    return calls + [colour_baseline.on(bcfg)]
