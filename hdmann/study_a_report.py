"""Study A's report: accuracy tables, confusion matrices, cluster metrics, the paper's claims and
their verdicts, computed from the stages of :mod:`hdmann.study_a`.

Nothing here is a stage: rewording a claim or changing a table re-keys no cache entry.
"""
from __future__ import annotations

import numpy as np

from hdmann import data, embedding, evaluation
from hdmann.config import StudyAConfig
from hdmann.study_a import SPLITS, key_memory, levels, predictions, split_data


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
