"""Study A beyond the paper: out-of-distribution scores (the distance to the nearest key against the
softmax CNN's maximum probability) and the accuracy kept when the model abstains on its least confident images."""
from __future__ import annotations

import numpy as np

from hdmann.methods import evaluation
from hdmann.methods.words import listing
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a_beyond import pipeline as beyond
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.measures import PART, _memory, _quality


MODELS = {"study_a": "HD-MANN (Study A model)", "cross_entropy": "softmax CNN (same body and budget)"}


def ood_score(bcfg: StudyABeyondConfig, which: str, outputs: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Higher = more out-of-distribution: the distance to the nearest key for HD-MANN, one minus the
    maximum softmax probability for the cross-entropy CNN (Hendrycks & Gimpel 2017)."""
    if which == "cross_entropy":
        return 1 - np.max(outputs, axis=1)
    return nearest_key_distance(outputs, keys, bcfg.study_a.distance)


def nearest_key_distance(outputs: np.ndarray, keys: np.ndarray, metric: str) -> np.ndarray:
    return _memory(keys).distances(outputs, metric).min(axis=1)


def _tasks(bcfg: StudyABeyondConfig) -> dict[str, tuple[str, str]]:
    """Task name -> (in-distribution set, out set)."""
    tasks = {"near: isic-other vs isic4": (f"{PART}_original", "new_original"),
             "far: BreastMNIST vs isic4": (f"{PART}_original", "far_breastmnist"),
             "far: mammogram patches vs isic4": (f"{PART}_original", "far_mias")}
    for level in study_a.levels(bcfg.study_a):
        if level != "original" and _quality(level) <= bcfg.ood_compressed_max_quality:
            tasks[f"compressed: {level} vs originals"] = (f"{PART}_original", f"{PART}_{level}")
    return tasks


def _ood_point(b: StudyABeyondConfig, task: str, data_root=None) -> float:
    """The AUROC of one task for one seed's Study A model (no interval: the seeds page's value)."""
    out = beyond.outputs_on_every_set(b, "study_a", data_root)
    inside, outside = _tasks(b)[task]
    score = np.concatenate([ood_score(b, "study_a", out[inside], out["keys"]),
                            ood_score(b, "study_a", out[outside], out["keys"])])
    return evaluation.auroc(np.concatenate([np.zeros(len(out[inside])), np.ones(len(out[outside]))]), score)


def ood_rows(bcfg: StudyABeyondConfig, data_root=None, seed_config: StudyABeyondConfig | None = None) -> list[dict]:
    """AUROC per model and task with a stratified bootstrap interval; for HD-MANN also its AUROC minus
    the softmax CNN's on the same images, with a paired (same resamples) stratified interval.
    ``seed_config``: probe that seed's Study A model (one of :func:`hdmann.studies.study_a_beyond.pipeline.probe_seed_configs`)
    against the one softmax CNN (trained on the first seed only)."""
    outputs = {"study_a": beyond.outputs_on_every_set(seed_config or bcfg, "study_a", data_root),
               "cross_entropy": beyond.outputs_on_every_set(bcfg, "cross_entropy", data_root)}
    rows = []
    for task, (inside, outside) in _tasks(bcfg).items():
        scores = {}
        for which, label in MODELS.items():
            out = outputs[which]
            scores[which] = np.concatenate([ood_score(bcfg, which, out[inside], out["keys"]),
                                            ood_score(bcfg, which, out[outside], out["keys"])])
            n_in, n_out = len(out[inside]), len(out[outside])
        y = np.concatenate([np.zeros(n_in), np.ones(n_out)])
        for which, label in MODELS.items():
            auc, low, high = evaluation.bootstrap_ci(evaluation.auroc, y, scores[which], n_boot=bcfg.bootstrap_samples,
                                                     seed=bcfg.bootstrap_seed, stratify=y)
            row = {"model": label, "task": task, "auroc": auc, "ci_low": low, "ci_high": high,
                   "n_in": int(n_in), "n_out": int(n_out)}
            if which != "cross_entropy":
                diff, d_low, d_high = evaluation.bootstrap_ci(
                    lambda t, a, b: evaluation.auroc(t, a) - evaluation.auroc(t, b), y, scores[which],
                    scores["cross_entropy"], n_boot=bcfg.bootstrap_samples, seed=bcfg.bootstrap_seed, stratify=y)
                row.update({"minus_softmax": diff, "diff_low": d_low, "diff_high": d_high})
            rows.append(row)
    return rows


def softmax_confidence(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    """The check behind a softmax AUROC far below 0.5: per task, the softmax CNN's mean maximum
    probability on the in-distribution images and on the out-of-distribution ones, and the AUROC of
    the reversed score (the maximum probability itself). An AUROC near 0 is not a broken score but an
    inverted one: the CNN is *more* confident on the far-away images than on its own classes."""
    out = beyond.outputs_on_every_set(bcfg, "cross_entropy", data_root)
    rows = []
    for task, (inside, outside) in _tasks(bcfg).items():
        conf_in, conf_out = out[inside].max(axis=1), out[outside].max(axis=1)
        y = np.concatenate([np.zeros(len(conf_in)), np.ones(len(conf_out))])
        rows.append({"task": task, "max_softmax_in": float(conf_in.mean()), "max_softmax_out": float(conf_out.mean()),
                     "auroc": evaluation.auroc(y, 1 - np.concatenate([conf_in, conf_out])),
                     "auroc_reversed": evaluation.auroc(y, np.concatenate([conf_in, conf_out]))})
    return rows


def task_words(task: str) -> str:
    """An out-of-distribution task as the prose names it: "far: BreastMNIST vs isic4" -> "BreastMNIST
    against isic4"."""
    return task.split(": ", 1)[-1].replace(" vs ", " against ")


def softmax_wording(rows: list[dict]) -> str:
    """Short sentences on the tasks where the maximum-softmax score ranks backwards (AUROC < 0.5); the
    numbers behind them are in the chapter's softmax-confidence table."""
    backwards = [r for r in rows if r["auroc"] < 0.5]
    if not backwards:
        return "The softmax CNN's score ranks every task the right way round (AUROC at or above 0.5)."
    tasks = listing(task_words(r["task"]) for r in backwards)
    return (f"For {tasks}, the softmax CNN's AUROC lies below 0.5. Its score is not broken but inverted. The CNN is "
            "more confident on the outside images than on the inside ones; the table above gives its mean maximum "
            "probability on each side, and the reversed score's AUROC. A softmax is often overconfident far from "
            "its training data (Hein et al., 2019). Reversing the score after seeing the test set would fit it to "
            "the answer, so the table keeps the usual direction.")


def selective_curves(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    """Accuracy on the images kept when the model abstains on the share with the highest score."""
    rows = []
    coverages = np.linspace(1.0, 1.0 / bcfg.selective_coverages, bcfg.selective_coverages)
    for which, label in MODELS.items():
        out = beyond.outputs_on_every_set(bcfg, which, data_root)
        y = out[f"{PART}_labels"]
        for level in study_a.levels(bcfg.study_a):
            o = out[f"{PART}_{level}"]
            guess = o.argmax(1) if which == "cross_entropy" else _memory(out["keys"]).predict(o, bcfg.study_a.distance)
            order = np.argsort(ood_score(bcfg, which, o, out["keys"]), kind="stable")  # most confident first
            hit = (guess == y)[order]
            for cov in coverages:
                n = max(1, int(round(cov * len(hit))))
                rows.append({"model": label, "level": level, "coverage": float(cov), "accuracy": float(hit[:n].mean())})
    return rows


def ood_display(rows: list[dict], softmax: dict) -> list[dict]:
    """The out-of-distribution table as the page shows it: HD-MANN's seed-mean AUROC with its interval
    and each seed's value, the softmax CNN's (one seed), and their paired difference."""
    return [{"task": r["task"], "HD-MANN AUROC (seed mean)": f"{r['auroc']:.3f} [{r['low']:.3f}, {r['high']:.3f}]",
             "HD-MANN by seed": ", ".join(f"{x:.3f}" for x in r["per_seed"]),
             "softmax CNN AUROC (one seed)": f"{softmax[r['task']]['auroc']:.3f}",
             "difference (paired 95 % CI)": f"{r['difference']:+.3f} [{r['difference_low']:+.3f}, {r['difference_high']:+.3f}]"}
            for r in rows]


SOFTMAX_COLUMNS = {"task": "task", "max_softmax_in": "mean max. probability, inside",
                   "max_softmax_out": "mean max. probability, outside", "auroc": "AUROC (1 − max. probability)",
                   "auroc_reversed": "AUROC (max. probability)"}
