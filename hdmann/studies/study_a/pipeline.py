"""Study A's pipeline: data split, HD-MANN training, predictions under JPEG, t-SNE.

Each of these is a stage (:mod:`hdmann.engine.stages`): one cache entry keyed by the config fields it
reads, its code (this module and what it imports) and the keys of the stages it reads, so a change
to the t-SNE settings does not retrain and a rebuild with nothing changed only loads. Tables,
claims and verdicts are in :mod:`hdmann.studies.study_a.report`, so rewording them re-keys nothing.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hdmann.engine import coding, data
from hdmann.engine.cache import load_entry
from hdmann.engine.stages import stage
from hdmann.methods import embedding, models, train
from hdmann.methods.memory import KeyMemory
from hdmann.studies.study_a.config import StudyAConfig

SPLIT_FIELDS = ("image_size", "source_size", "per_class_target", "validation_fraction", "stopping_fraction",
                "paper_order",
                "rotation_factor", "zoom_factor", "flip", "max_images_per_class",
                "max_test_images_per_class", "split_seed", "augment_seed")
MODEL_FIELDS = SPLIT_FIELDS + ("hypervector_dim", "conv_filters", "dense_units", "dropout_rate",
                               "output_activation", "batch_size", "max_epochs", "patience",
                               "learning_rate", "weight_decay", "key_seed", "train_seed")
PREDICT_FIELDS = MODEL_FIELDS + ("jpeg_qualities", "jpeg_subsampling")
TSNE_FIELDS = PREDICT_FIELDS + ("tsne_perplexity", "tsne_seed")
SPLITS = ("val", "test")  # the parts every verdict is reported on: the reporting half and the test folder
SEED_STEP = 1000  # seed i trains with train_seed + i * SEED_STEP


def seed_configs(cfg: StudyAConfig) -> list[StudyAConfig]:
    """One config per training seed (``cfg.seeds`` of them); the first is ``cfg`` itself. Only the
    training seed differs (initial weights, batch order), so the split, the keys and the test images
    are shared and every seed's model is scored on the same images."""
    return [cfg.replace(train_seed=cfg.train_seed + i * SEED_STEP) for i in range(cfg.seeds)]


def levels(cfg: StudyAConfig) -> list[str]:
    return ["original"] + [f"q{q}" for q in cfg.jpeg_qualities]


def _sources(cfg: StudyAConfig, data_root) -> tuple[list[Path], list[list[int]]]:
    """The files the split reads (``max_images_per_class`` of each class of the train folder and
    ``max_test_images_per_class`` of the test folder, seeded; all where None), and the images per
    class of each folder, which decide that seeded choice."""
    files, counts = [], []
    for split, limit in (("train", cfg.max_images_per_class), ("test", cfg.max_test_images_per_class)):
        items = data.list_isic(split, data_root)
        labels = np.array([label for _, label in items])
        files += [items[i][0] for i in data.take_per_class(labels, limit, cfg.split_seed)]
        counts.append(np.bincount(labels, minlength=len(data.ISIC_CLASSES)).tolist())
    return files, counts


def _params(cfg: StudyAConfig, fields, data_root) -> dict:
    files, counts = _sources(cfg, data_root)
    return {"fields": {f: getattr(cfg, f) for f in fields}, "data": data.fingerprint_files(files), "counts": counts}


def augmented_train_split(cfg: StudyAConfig, data_root=None):
    """The train folder and Study A's augmented split of it at the stored size (not cached).

    One function, so that every chapter that rebuilds the split gets the same one."""
    source = data.load_isic("train", cfg.source_size, data_root, cfg.max_images_per_class, cfg.split_seed)
    s = train.augmented_split(
        source.images, source.labels, per_class=cfg.per_class_target,
        val_fraction=cfg.validation_fraction, paper_order=cfg.paper_order, split_seed=cfg.split_seed,
        augment_seed=cfg.augment_seed, rotation=cfg.rotation_factor, zoom=cfg.zoom_factor, flip=cfg.flip,
        groups=source.duplicate_groups())  # pixel-identical images stay on one side
    return source, s


def stopping_halves(labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the validation part that early stopping watches, and the rows that only report:
    stratified by class, every group of identical images (or of copies of one original) on one side."""
    try:
        stop, report = train.stratified_split(labels, 1 - fraction, seed, groups)
    except ValueError:  # scikit-learn cannot stratify so few images
        stop = report = ()
    if not len(stop) or not len(report):
        raise ValueError(f"the validation part ({len(labels)} images) is too small to split into a stopping and a "
                         "reporting half: use more images (max_images_per_class) or a larger validation_fraction")
    return stop, report


@stage("study_a/split", params=lambda cfg, data_root: _params(cfg, SPLIT_FIELDS, data_root))
def split_data(cfg: StudyAConfig, data_root=None) -> dict:
    """Train part (augmented, at the model's input size), the validation part's two halves and the
    test folder at the stored size, each sample tagged with the index of its original in the train
    folder. ``x_stop`` (``stopping_fraction`` of the validation part) is what early stopping watches;
    ``x_val`` is the rest, the reporting half: no image that chose an epoch scores a verdict."""
    source, s = augmented_train_split(cfg, data_root)
    test = data.load_isic("test", cfg.source_size, data_root, cfg.max_test_images_per_class, cfg.split_seed)
    x_train, _ = coding.compress_many(s.x_train, None, out_size=cfg.image_size, workers=1)
    groups = source.duplicate_groups()
    stop, report = stopping_halves(s.y_val, groups[s.source_val], cfg.stopping_fraction, cfg.split_seed + 1)
    return {"x_train": x_train, "y_train": s.y_train, "source_train": s.source_train,
            "x_val": s.x_val[report], "y_val": s.y_val[report], "source_val": s.source_val[report],
            "x_stop": s.x_val[stop], "y_stop": s.y_val[stop], "source_stop": s.source_val[stop],
            "x_test": test.images, "y_test": test.labels,
            "train_names": np.array(source.names), "test_names": np.array(test.names),
            "train_groups": source.duplicate_groups()}


def key_memory(cfg: StudyAConfig) -> KeyMemory:
    return KeyMemory.for_classes(data.ISIC_CLASSES, cfg.hypervector_dim, cfg.key_seed)


def _resized(images: np.ndarray, size: int) -> np.ndarray:
    return coding.compress_many(images, None, out_size=size, workers=1)[0]


@stage("study_a/model", params=lambda cfg, data_root: _params(cfg, MODEL_FIELDS, data_root),
       reads=lambda cfg: [split_data.on(cfg)])
def train_model(cfg: StudyAConfig, data_root=None, *, folder: Path) -> None:
    """Train HD-MANN on uncompressed images, early stopping on the stopping half of the validation
    part; the cache folder holds model.keras, keys and history (calling it returns that folder)."""
    import keras

    split = split_data(cfg, data_root)
    memory = key_memory(cfg)
    with train.seeded(cfg.train_seed):
        model = models.hdmann_cnn(cfg)
        model.compile(optimizer=keras.optimizers.AdamW(cfg.learning_rate, weight_decay=cfg.weight_decay),
                      loss="mse")
    info = train.fit(model, split["x_train"], memory.targets(split["y_train"]),
                     _resized(split["x_stop"], cfg.image_size), memory.targets(split["y_stop"]),
                     batch_size=cfg.batch_size, max_epochs=cfg.max_epochs, patience=cfg.patience,
                     seed=cfg.train_seed, label=f"study A model, seed {cfg.train_seed}")
    model.save(folder / "model.keras")
    np.save(folder / "keys.npy", memory.keys)
    (folder / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
    (folder / "meta.json").write_text(json.dumps({"values": info}))


def load_model(cfg: StudyAConfig, data_root=None):
    folder = train_model(cfg, data_root)
    return models.load(folder / "model.keras"), load_entry(folder)


@stage("study_a/predictions", params=lambda cfg, data_root: _params(cfg, PREDICT_FIELDS, data_root),
       reads=lambda cfg: [train_model.on(cfg), split_data.on(cfg)])
def predictions(cfg: StudyAConfig, data_root=None) -> dict:
    """Network outputs on the reporting half of the validation part and on the test folder at every JPEG level, with the
    codec's achieved ratio, bpp, PSNR and SSIM per image (measured at the stored size)."""
    model, _ = load_model(cfg, data_root)
    split = split_data(cfg, data_root)
    out = {}
    for part in SPLITS:
        images = split[f"x_{part}"]
        out[f"{part}_labels"] = split[f"y_{part}"]
        for level in levels(cfg):
            codec, q = (None, 0) if level == "original" else ("jpeg", int(level[1:]))
            pixels, stats = coding.compress_many(images, codec, q, out_size=cfg.image_size,
                                                      subsampling=cfg.jpeg_subsampling)
            out[f"{part}_{level}_outputs"] = train.predict(model, pixels).astype(np.float32)
            for name, values in stats.items():
                out[f"{part}_{level}_{name}"] = values
    return out


@stage("study_a/tsne", params=lambda cfg, data_root: _params(cfg, TSNE_FIELDS, data_root),
       reads=lambda cfg, part: [predictions.on(cfg)])
def tsne_maps(cfg: StudyAConfig, data_root=None, part: str = "val") -> dict:
    """One t-SNE run per quality level on the outputs of ``part``, class keys embedded alongside."""
    pred = predictions(cfg, data_root)
    keys = key_memory(cfg).keys
    out = {}
    for level in levels(cfg):
        pts, key_pts = embedding.tsne_with_keys(pred[f"{part}_{level}_outputs"], keys,
                                                cfg.tsne_perplexity, cfg.tsne_seed)
        out[f"{level}_points"], out[f"{level}_keys"] = pts, key_pts
    return out


