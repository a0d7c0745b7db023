"""Study A's report: accuracy tables, confusion matrices and cluster metrics, computed from the
stages of :mod:`hdmann.studies.study_a.pipeline` (the claims and their verdicts are in
:mod:`hdmann.studies.study_a.claims`).

Nothing here is a stage: rewording a claim or changing a table re-keys no cache entry.
"""
from __future__ import annotations

import numpy as np

from hdmann.engine import data
from hdmann.methods import embedding, evaluation, models
from hdmann.methods.words import listing
from hdmann.studies import papers
from hdmann.studies.study_a import distortion
from hdmann.studies.study_a.config import StudyAConfig, study_a_config
from hdmann.studies.study_a.pipeline import key_memory, levels, load_model, predictions, seed_configs, split_data, SPLITS

# The two ladders a claim can be decided on: the paper's JPEG qualities coded at the stored size (then
# resized to the input), and the matched ladder coded at the input size (:mod:`hdmann.studies.study_a.distortion`)
NOMINAL, MATCHED = "nominal", "matched"
ARMS = (NOMINAL, MATCHED)


PART_NAMES = {"val": "reporting half", "test": "test folder"}


def _check_arm(cfg: StudyAConfig, arm: str) -> None:
    if arm not in ARMS:
        raise ValueError(f"arm={arm!r}: use one of {ARMS}")
    if arm == MATCHED and not distortion.matched_arm(cfg):
        raise ValueError(f"the {cfg.profile} profile has no matched arm: the model reads the stored size "
                         f"({cfg.image_size} px) or paper_distortion is off")


def seed_outputs(cfg: StudyAConfig, data_root=None, arm: str = NOMINAL) -> list[dict]:
    """Each training seed's outputs on ``arm``'s ladder (keys as :func:`hdmann.studies.study_a.pipeline.predictions`)."""
    _check_arm(cfg, arm)
    stage = predictions if arm == NOMINAL else distortion.matched_predictions
    return [stage(c, data_root) for c in seed_configs(cfg)]




def hits(cfg: StudyAConfig, data_root, part: str, level: str, metric: str | None = None, arm: str = NOMINAL) -> np.ndarray:
    """(seeds x images): whether each seed's model gets each image of ``part`` right at ``level``."""
    memory = key_memory(cfg)
    return np.stack([memory.predict(p[f"{part}_{level}_outputs"], metric or cfg.distance) == p[f"{part}_labels"]
                     for p in seed_outputs(cfg, data_root, arm)])


def accuracy_table(cfg: StudyAConfig, data_root=None, metric: str | None = None, arm: str = NOMINAL,
                   input_size: bool = True) -> list[dict]:
    """Accuracy per split and JPEG level: the mean over the training seeds, with a 95 % interval that
    resamples seeds and images (:func:`hdmann.methods.evaluation.seed_image_ci`), the seeds' range, and
    per-class recall (seed mean); what the codec did, at the stored size and, with ``input_size``, at
    the model's input (a stage of its own, built for the chapter's configs only)."""
    runs = seed_outputs(cfg, data_root, arm)
    at_input = distortion.input_distortion(cfg, data_root) if input_size and arm == NOMINAL else None
    memory = key_memory(cfg)
    rows = []
    for part in SPLITS:
        y = runs[0][f"{part}_labels"]
        for level in levels(cfg):
            guesses = [memory.predict(p[f"{part}_{level}_outputs"], metric or cfg.distance) for p in runs]
            hit = np.stack([g == y for g in guesses])
            acc, low, high = evaluation.seed_image_ci(hit, cfg.bootstrap_samples, cfg.bootstrap_seed)
            recall = np.mean([evaluation.per_class_recall(y, g, len(data.ISIC_CLASSES)) for g in guesses], axis=0)
            per_seed = hit.mean(axis=1)
            stats = runs[0]  # the codec's statistics depend on the images only, not on the model
            if level == "original":
                psnr_input, ssim_input = float("inf"), 1.0
            elif arm == NOMINAL and at_input is None:
                psnr_input, ssim_input = float("nan"), float("nan")
            elif arm == NOMINAL:  # coded at the stored size, resized: measured again at the input
                psnr_input = float(np.mean(at_input[f"{part}_{level}_psnr_input"]))
                ssim_input = float(np.mean(at_input[f"{part}_{level}_ssim_input"]))
            else:  # coded at the input size: its own statistics are at the input
                psnr_input, ssim_input = float(np.mean(stats[f"{part}_{level}_psnr"])), float(np.mean(stats[f"{part}_{level}_ssim"]))
            rows.append({"split": part, "level": level, "quality": 100 if level == "original" else int(level[1:]),
                         "accuracy": acc, "ci_low": low, "ci_high": high, "n": int(len(y)), "seeds": len(runs),
                         "seed_min": float(per_seed.min()), "seed_max": float(per_seed.max()),
                         **{f"recall_{c}": float(r) for c, r in zip(data.ISIC_CLASSES, recall)},
                         "ratio": float(np.mean(stats[f"{part}_{level}_ratio"])),
                         "bpp": float(np.mean(stats[f"{part}_{level}_bpp"])),
                         "psnr": float(np.mean(stats[f"{part}_{level}_psnr"])),
                         "ssim": float(np.mean(stats[f"{part}_{level}_ssim"])),
                         "psnr_input": psnr_input, "ssim_input": ssim_input, "arm": arm})
    return rows


def seed_values(cfg: StudyAConfig, data_root=None) -> list[dict]:
    """Each training seed's own value of the accuracies the model chapter glues (``acc_{part}_{level}``,
    whose seed mean they make), for the page of how far a seed moves the book's numbers."""
    return [{"chapter": "study_a_model", "number": f"acc_{part}_{level}", "glued": True,
             "what": f"accuracy, {PART_NAMES[part]}, {level}", "values": hits(cfg, data_root, part, level).mean(axis=1).tolist()}
            for part in SPLITS for level in levels(cfg)]


def confusion_matrices(cfg: StudyAConfig, data_root=None, part: str = "test") -> dict[str, np.ndarray]:
    """Confusion matrices summed over the training seeds (each image counted once per seed)."""
    memory = key_memory(cfg)
    out = {}
    for level in levels(cfg):
        out[level] = sum(evaluation.confusion(p[f"{part}_labels"], memory.predict(p[f"{part}_{level}_outputs"], cfg.distance),
                                              len(data.ISIC_CLASSES)) for p in seed_outputs(cfg, data_root))
    return out


def cluster_table(cfg: StudyAConfig, data_root=None, part: str = "val") -> list[dict]:
    """Silhouette and key distances per level, of the first seed's model (the one the t-SNE maps show)."""
    pred = predictions(cfg, data_root)
    keys = key_memory(cfg).keys
    return [{"level": level, **embedding.cluster_metrics(pred[f"{part}_{level}_outputs"], pred[f"{part}_labels"], keys)}
            for level in levels(cfg)]


CLUSTER_COLUMNS = {"silhouette": "silhouette", "own_key_distance": "distance to own key",
                   "other_key_distance": "distance to nearest other key", "key_margin": "key margin"}


def accuracy_change(cfg: StudyAConfig, data_root, part: str, level_a: str, level_b: str) -> tuple[float, float, float]:
    """Accuracy at ``level_b`` minus at ``level_a`` on the same images, seed mean, with an interval
    that resamples seeds and images (paired: the same draws on both sides)."""
    diff = hits(cfg, data_root, part, level_b).astype(float) - hits(cfg, data_root, part, level_a)
    return evaluation.seed_image_ci(diff, cfg.bootstrap_samples, cfg.bootstrap_seed)


def leak_check(cfg: StudyAConfig, data_root=None) -> dict:
    """How many validation samples share an original image with the training part, or are a
    pixel-identical twin of one (0 unless ``paper_order``: the split groups identical images)."""
    split = split_data(cfg, data_root)
    source_val = np.concatenate([split["source_stop"], split["source_val"]])  # both halves
    shared = np.isin(source_val, split["source_train"])
    groups = split["train_groups"]  # pixel-identical originals share a group
    twin = np.isin(groups[source_val], groups[split["source_train"]]) & ~shared
    return {"val_samples": int(len(shared)), "val_sharing_an_original": int(shared.sum()),
            "share": float(shared.mean()), "val_identical_to_a_train_original": int(twin.sum())}


def accuracy_display(rows: list[dict], cfg: StudyAConfig):
    """The accuracy table as the page shows it: part, level, seed-mean accuracy with its interval and
    the seeds' range, and the distortion at the stored size and at the model's input (the CSV keeps
    every column of :func:`accuracy_table`)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    shown = pd.DataFrame({
        "part": frame["split"].map(PART_NAMES), "level": frame["level"],
        "accuracy": frame["accuracy"].map("{:.3f}".format),
        "95 % interval": [f"{lo:.3f} to {hi:.3f}" for lo, hi in zip(frame["ci_low"], frame["ci_high"])],
        "seeds' range": [f"{lo:.3f} to {hi:.3f}" for lo, hi in zip(frame["seed_min"], frame["seed_max"])],
        f"PSNR at {cfg.source_size} px": [_db(v) for v in frame["psnr"]],
        f"PSNR at {cfg.image_size} px": [_db(v) for v in frame["psnr_input"]]})
    return shown, frame


def _db(value: float) -> str:
    return "—" if not np.isfinite(value) else f"{value:.1f} dB"


def leak_wording(val_gain: float, test_gain: float) -> str:
    """What the paper's literal order did to accuracy, from the signs of the two changes."""
    def moved(d: float, what: str) -> str:  # "leaves it unchanged": the object before the complement
        return f"raises {what}" if d > 0 else f"lowers {what}" if d < 0 else f"leaves {what} unchanged"
    return (f"The paper's order {moved(val_gain, 'accuracy')} on the reporting half ({val_gain:+.3f}) and "
            f"{moved(test_gain, 'it')} on the test folder ({test_gain:+.3f})")


def level_words(level: str) -> str:
    """A level as the prose names it after "at": "on uncompressed images" for the original, else "at q5"."""
    return "on uncompressed images" if level == "original" else f"at {level}"


def trend_wording(points: list[tuple[str, float]], digits: int = 3) -> str:
    """How a number moves along the JPEG ladder, its verb from the signs of the steps: "falls from
    0.412 on uncompressed images to 0.205 at q5 and 0.101 at q1" ("rises" when every step goes up,
    "goes" when the steps disagree, "stays at" when none moves at the shown precision)."""
    shown = [(level, round(value, digits)) for level, value in points]
    steps = [b - a for (_, a), (_, b) in zip(shown, shown[1:])]
    if all(s == 0 for s in steps):
        return f"stays at {shown[0][1]:.{digits}f} at every level shown"
    verb = "falls" if all(s <= 0 for s in steps) else "rises" if all(s >= 0 for s in steps) else "goes"
    rest = [f"{value:.{digits}f} {level_words(level)}" for level, value in shown[1:]]
    return f"{verb} from {shown[0][1]:.{digits}f} {level_words(shown[0][0])} to {listing(rest)}"


def table_i_rows() -> list[dict]:
    """Table I of Study A: the paper's layers beside the Keras model's (built at the paper's config), and
    whether each layer's name and parameter count match."""
    ours = models.layer_table(models.hdmann_cnn(study_a_config("paper")))[1:]
    return [{"layer (paper)": layer, "output shape (paper)": shape, "parameters (paper)": params,
             "layer (ours)": row["layer"], "output shape (ours)": row["output_shape"], "parameters (ours)": row["params"],
             "match": params == row["params"] and layer == row["layer"]}
            for (layer, shape, params), row in zip(papers.STUDY_A_TABLE_I, ours)]


def paper_order_rows(cfg: StudyAConfig, data_root=None) -> list[dict]:
    """Per level, the first seed's accuracy with our split order and with the paper's literal order, on
    both parts (the paper's order lets augmented copies of a validation image into the training part)."""
    ours = {(r["split"], r["level"]): r["accuracy"]
            for r in accuracy_table(cfg.replace(seeds=1), data_root, input_size=False)}
    paper = {(r["split"], r["level"]): r["accuracy"]
             for r in accuracy_table(cfg.replace(paper_order=True, seeds=1), data_root, input_size=False)}
    return [{"level": lv, "reporting half, our order": ours[("val", lv)], "reporting half, paper order": paper[("val", lv)],
             "test folder, our order": ours[("test", lv)], "test folder, paper order": paper[("test", lv)]}
            for lv in levels(cfg)]


def chapter_values(cfg: StudyAConfig, data_root=None) -> dict:
    """Every value and sentence the model chapter's prose cites, by glue name."""
    values = {"profile": cfg.profile, "image_size": cfg.image_size, "source_size": cfg.source_size,
              "dim": cfg.hypervector_dim}
    for r in accuracy_table(cfg, data_root):
        name = f"acc_{r['split']}_{r['level']}"
        values.update({name: r["accuracy"], f"{name}_low": r["ci_low"], f"{name}_high": r["ci_high"]})
    table_i = table_i_rows()
    values.update({"table_i_total": int(sum(r["parameters (ours)"] for r in table_i)),
                   "table_i_all_match": "all" if all(r["match"] for r in table_i) else "not all",
                   "profile_params": models.hdmann_cnn(cfg).count_params()})
    split = split_data(cfg, data_root)
    values.update({"train_per_class": int(round(cfg.per_class_target * (1 - cfg.validation_fraction))),
                   "n_train": len(split["y_train"]), "n_val": len(split["y_val"]), "n_stop": len(split["y_stop"]),
                   "stopping_share": 100 * cfg.stopping_fraction, "n_test": len(split["y_test"]),
                   "leak_ours": leak_check(cfg, data_root)["val_sharing_an_original"],
                   "leak_paper_share": 100 * leak_check(cfg.replace(paper_order=True), data_root)["share"]})
    info = load_model(cfg, data_root)[1]
    seed_runs = [load_model(c, data_root)[1] for c in seed_configs(cfg)]
    values.update({"n_seeds": cfg.seeds, "seed_list": ", ".join(str(c.train_seed) for c in seed_configs(cfg)),
                   "seed_epochs": ", ".join(f"{r['best_epoch']} of {r['epochs_run']}" for r in seed_runs),
                   "epochs_run": info["epochs_run"], "best_epoch": info["best_epoch"],
                   "epoch_seconds": float(np.median(info["epoch_seconds"]))})
    original = next(r for r in paper_order_rows(cfg, data_root) if r["level"] == "original")
    val_gain = original["reporting half, paper order"] - original["reporting half, our order"]
    test_gain = original["test folder, paper order"] - original["test folder, our order"]
    values.update({"leak_val_gain": val_gain, "leak_test_gain": test_gain, "leak_words": leak_wording(val_gain, test_gain)})
    return values



def representations_values(cfg: StudyAConfig, data_root=None) -> dict:
    """Every value and sentence the representations chapter's prose cites, by glue name: each level's
    silhouette and key margin on the reporting half, and how both move down the ladder."""
    clusters = {r["level"]: r for r in cluster_table(cfg, data_root, "val")}
    values = {"profile": cfg.profile, "perplexity": cfg.tsne_perplexity}
    for level, row in clusters.items():
        values.update({f"sil_{level}": row["silhouette"], f"margin_{level}": row["key_margin"]})
    shown = ("original", "q5", "q1")  # the prose's three: uncompressed, the paper's q5 and the floor
    values.update({"sil_words": trend_wording([(lv, clusters[lv]["silhouette"]) for lv in shown]),
                   "margin_words": trend_wording([(lv, clusters[lv]["key_margin"]) for lv in shown])})
    return values
