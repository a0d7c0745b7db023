"""Study A end to end: data split, HD-MANN training, predictions under JPEG, t-SNE, claims.

Each stage is one cache entry keyed by the config fields it reads and the code it runs, so a
change to the t-SNE settings does not retrain and a rebuild with nothing changed only loads.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hdmann import cache, compression, data, embedding, evaluation, train
from hdmann.config import StudyAConfig
from hdmann.memory import KeyMemory

SPLIT_FIELDS = ("image_size", "source_size", "per_class_target", "validation_fraction", "paper_order",
                "rotation_factor", "zoom_factor", "flip", "max_images_per_class",
                "max_test_images_per_class", "split_seed", "augment_seed")
MODEL_FIELDS = SPLIT_FIELDS + ("hypervector_dim", "conv_filters", "dense_units", "dropout_rate",
                               "output_activation", "batch_size", "max_epochs", "patience",
                               "learning_rate", "weight_decay", "key_seed", "train_seed")
PREDICT_FIELDS = MODEL_FIELDS + ("jpeg_qualities", "jpeg_subsampling")
TSNE_FIELDS = PREDICT_FIELDS + ("tsne_perplexity", "tsne_seed")
SPLIT_CODE = ("data", "train")
MODEL_CODE = SPLIT_CODE + ("models", "memory", "study_a")
PREDICT_CODE = MODEL_CODE + ("compression",)
TSNE_CODE = PREDICT_CODE + ("embedding",)
SPLITS = ("val", "test")


def levels(cfg: StudyAConfig) -> list[str]:
    return ["original"] + [f"q{q}" for q in cfg.jpeg_qualities]


def _params(cfg: StudyAConfig, fields, data_root) -> dict:
    files = [p for split in data.ISIC_SPLITS for p, _ in data.list_isic(split, data_root)]
    return {"fields": {f: getattr(cfg, f) for f in fields}, "data": data.fingerprint_files(files)}


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


def split_data(cfg: StudyAConfig, data_root=None) -> dict:
    """Train part (augmented, at the model's input size), validation part and test folder at the
    stored size, each sample tagged with the index of its original in the train folder."""

    def make():
        source, s = augmented_train_split(cfg, data_root)
        test = data.load_isic("test", cfg.source_size, data_root, cfg.max_test_images_per_class, cfg.split_seed)
        x_train, _ = compression.compress_many(s.x_train, None, out_size=cfg.image_size, workers=1)
        return {"x_train": x_train, "y_train": s.y_train, "source_train": s.source_train,
                "x_val": s.x_val, "y_val": s.y_val, "source_val": s.source_val,
                "x_test": test.images, "y_test": test.labels,
                "train_names": np.array(source.names), "test_names": np.array(test.names),
                "train_groups": source.duplicate_groups()}

    return cache.cached("study_a/split", _params(cfg, SPLIT_FIELDS, data_root), make, code=SPLIT_CODE)


def key_memory(cfg: StudyAConfig) -> KeyMemory:
    return KeyMemory.for_classes(data.ISIC_CLASSES, cfg.hypervector_dim, cfg.key_seed)


def _resized(images: np.ndarray, size: int) -> np.ndarray:
    return compression.compress_many(images, None, out_size=size, workers=1)[0]


def train_model(cfg: StudyAConfig, data_root=None) -> Path:
    """Train HD-MANN on uncompressed images; the cache folder holds model.keras, keys and history."""
    import keras

    from hdmann import models

    def build(folder: Path) -> None:
        split = split_data(cfg, data_root)
        memory = key_memory(cfg)
        keras.utils.set_random_seed(cfg.train_seed)
        model = models.hdmann_cnn(cfg)
        model.compile(optimizer=keras.optimizers.AdamW(cfg.learning_rate, weight_decay=cfg.weight_decay),
                      loss="mse")
        info = train.fit(model, split["x_train"], memory.targets(split["y_train"]),
                         _resized(split["x_val"], cfg.image_size), memory.targets(split["y_val"]),
                         batch_size=cfg.batch_size, max_epochs=cfg.max_epochs, patience=cfg.patience,
                         seed=cfg.train_seed)
        model.save(folder / "model.keras")
        np.save(folder / "keys.npy", memory.keys)
        (folder / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
        (folder / "meta.json").write_text(json.dumps({"values": info}))

    return cache.cached_dir("study_a/model", _params(cfg, MODEL_FIELDS, data_root), build, code=MODEL_CODE)


def load_model(cfg: StudyAConfig, data_root=None):
    import keras

    folder = train_model(cfg, data_root)
    return keras.saving.load_model(folder / "model.keras"), cache.load_entry(folder)


def predictions(cfg: StudyAConfig, data_root=None) -> dict:
    """Network outputs on the validation part and the test folder at every JPEG level, with the
    codec's achieved ratio, bpp, PSNR and SSIM per image (measured at the stored size)."""

    def make():
        model, _ = load_model(cfg, data_root)
        split = split_data(cfg, data_root)
        out = {}
        for part in SPLITS:
            images = split[f"x_{part}"]
            out[f"{part}_labels"] = split[f"y_{part}"]
            for level in levels(cfg):
                codec, q = (None, 0) if level == "original" else ("jpeg", int(level[1:]))
                pixels, stats = compression.compress_many(images, codec, q, out_size=cfg.image_size,
                                                          subsampling=cfg.jpeg_subsampling)
                out[f"{part}_{level}_outputs"] = train.predict(model, pixels).astype(np.float32)
                for name, values in stats.items():
                    out[f"{part}_{level}_{name}"] = values
        return out

    return cache.cached("study_a/predictions", _params(cfg, PREDICT_FIELDS, data_root), make, code=PREDICT_CODE)


def tsne_maps(cfg: StudyAConfig, data_root=None, part: str = "val") -> dict:
    """One t-SNE run per quality level on the outputs of ``part``, class keys embedded alongside."""

    def make():
        pred = predictions(cfg, data_root)
        keys = key_memory(cfg).keys
        out = {}
        for level in levels(cfg):
            pts, key_pts = embedding.tsne_with_keys(pred[f"{part}_{level}_outputs"], keys,
                                                    cfg.tsne_perplexity, cfg.tsne_seed)
            out[f"{level}_points"], out[f"{level}_keys"] = pts, key_pts
        return out

    params = {**_params(cfg, TSNE_FIELDS, data_root), "part": part}
    return cache.cached("study_a/tsne", params, make, code=TSNE_CODE)


def accuracy_table(cfg: StudyAConfig, data_root=None, metric: str | None = None) -> list[dict]:
    """Accuracy with a 95 % bootstrap interval and per-class recall, per split and JPEG level."""
    pred = predictions(cfg, data_root)
    memory = key_memory(cfg)
    rows = []
    for part in SPLITS:
        y = pred[f"{part}_labels"]
        for level in levels(cfg):
            guess = memory.predict(pred[f"{part}_{level}_outputs"], metric or cfg.distance)
            acc, low, high = evaluation.accuracy_ci(y, guess, cfg.bootstrap_samples, cfg.bootstrap_seed)
            recall = evaluation.per_class_recall(y, guess, len(data.ISIC_CLASSES))
            rows.append({"split": part, "level": level, "quality": 100 if level == "original" else int(level[1:]),
                         "accuracy": acc, "ci_low": low, "ci_high": high, "n": int(len(y)),
                         **{f"recall_{c}": float(r) for c, r in zip(data.ISIC_CLASSES, recall)},
                         "ratio": float(np.mean(pred[f"{part}_{level}_ratio"])),
                         "bpp": float(np.mean(pred[f"{part}_{level}_bpp"])),
                         "psnr": float(np.mean(pred[f"{part}_{level}_psnr"])),
                         "ssim": float(np.mean(pred[f"{part}_{level}_ssim"]))})
    return rows


def confusion_matrices(cfg: StudyAConfig, data_root=None, part: str = "test") -> dict[str, np.ndarray]:
    pred = predictions(cfg, data_root)
    memory = key_memory(cfg)
    y = pred[f"{part}_labels"]
    return {level: evaluation.confusion(y, memory.predict(pred[f"{part}_{level}_outputs"], cfg.distance),
                                        len(data.ISIC_CLASSES)) for level in levels(cfg)}


def cluster_table(cfg: StudyAConfig, data_root=None, part: str = "val") -> list[dict]:
    pred = predictions(cfg, data_root)
    keys = key_memory(cfg).keys
    return [{"level": level, **embedding.cluster_metrics(pred[f"{part}_{level}_outputs"], pred[f"{part}_labels"], keys)}
            for level in levels(cfg)]


def accuracy_change(cfg: StudyAConfig, data_root, part: str, level_a: str, level_b: str) -> tuple[float, float, float]:
    """Accuracy at ``level_b`` minus at ``level_a`` on the same images, with a paired bootstrap interval."""
    pred = predictions(cfg, data_root)
    memory = key_memory(cfg)
    y = pred[f"{part}_labels"]
    hit_a = memory.predict(pred[f"{part}_{level_a}_outputs"], cfg.distance) == y
    hit_b = memory.predict(pred[f"{part}_{level_b}_outputs"], cfg.distance) == y
    return evaluation.bootstrap_ci(lambda a, b: float(np.mean(b) - np.mean(a)), hit_a, hit_b,
                                   n_boot=cfg.bootstrap_samples, seed=cfg.bootstrap_seed)


def claims(cfg: StudyAConfig, data_root=None, part: str = "val") -> list[dict]:
    """The paper's three claims beside what we measured, each with a verdict computed from the run."""
    rows = []
    flat = [accuracy_change(cfg, data_root, part, "original", lv) for lv in ("q50", "q20") if lv in levels(cfg)]
    holds = all(low <= 0 <= high or d >= 0 for d, low, high in flat)
    rows.append({"claim": "Accuracy stays flat from the original down to quality 20",
                 "measured": "; ".join(f"{lv}: {d:+.3f} [{low:+.3f}, {high:+.3f}]"
                                       for lv, (d, low, high) in zip(("q50", "q20"), flat)),
                 "verdict": "holds" if holds else "does not hold",
                 "test": "paired bootstrap 95 % interval of the accuracy change vs the original includes 0 (or the change is a gain)"})
    d_hi, _, _ = accuracy_change(cfg, data_root, part, "original", "q10")
    d_lo, low, high = accuracy_change(cfg, data_root, part, "q10", "q1")
    holds = high < 0 and d_lo < d_hi
    rows.append({"claim": "Accuracy drops sharply below quality 10",
                 "measured": f"original to q10: {d_hi:+.3f}; q10 to q1: {d_lo:+.3f} [{low:+.3f}, {high:+.3f}]",
                 "verdict": "holds" if holds else "does not hold",
                 "test": "the q10 to q1 change is negative (95 % interval below 0) and larger than the original to q10 change"})
    table = {r["level"]: r for r in cluster_table(cfg, data_root, part)}
    low_levels = [lv for lv in levels(cfg) if lv != "original" and int(lv[1:]) <= 5]
    worse = all(table[lv]["silhouette"] < table["original"]["silhouette"]
                and table[lv]["key_margin"] < table["original"]["key_margin"] for lv in low_levels)
    rows.append({"claim": "Class clusters lose density and merge at quality 5 and below",
                 "measured": "silhouette " + ", ".join(f"{lv} {table[lv]['silhouette']:.3f}" for lv in ["original", *low_levels])
                 + "; key margin " + ", ".join(f"{lv} {table[lv]['key_margin']:.2f}" for lv in ["original", *low_levels]),
                 "verdict": "holds" if worse else "does not hold",
                 "test": "silhouette and own-vs-other key margin at every quality <= 5 fall below the original's"})
    return rows


def leak_check(cfg: StudyAConfig, data_root=None) -> dict:
    """How many validation samples share an original image with the training part, or are a
    pixel-identical twin of one (0 unless ``paper_order``: the split groups identical images)."""
    split = split_data(cfg, data_root)
    shared = np.isin(split["source_val"], split["source_train"])
    groups = split["train_groups"]  # pixel-identical originals share a group
    twin = np.isin(groups[split["source_val"]], groups[split["source_train"]]) & ~shared
    return {"val_samples": int(len(shared)), "val_sharing_an_original": int(shared.sum()),
            "share": float(shared.mean()), "val_identical_to_a_train_original": int(twin.sum())}
