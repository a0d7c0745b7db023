"""Study A beyond the paper: the train x test matrix (a model trained at each JPEG level, tested at
every level), what training on compressed images gains and loses, and the hypervector-dimension sweep."""
from __future__ import annotations

import numpy as np

from hdmann.methods import embedding, evaluation, verdicts as vd
from hdmann.studies.study_a import pipeline as study_a, report as study_a_report
from hdmann.studies.study_a_beyond import pipeline as beyond
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.measures import PART, _ci_mean, _hits, _quality


def mixed_row_wording(bcfg: StudyABeyondConfig) -> dict[str, str]:
    """How the chapter's prose names the mixed training row ("In this run it is {state}."): trained, or
    left out by its profile (``quick`` leaves out its dearest model; ``paper`` trains it)."""
    if bcfg.mixed_training:
        return {"models": "one on mixed levels", "state": "trained"}
    return {"models": f"none on mixed levels (the {bcfg.profile} profile leaves that row out; the paper profile "
                      "trains it)",
            "state": f"not trained, since the {bcfg.profile} profile leaves it out"}


def leave_out_budget_wording(bcfg: StudyABeyondConfig) -> str:
    """The epoch budget of the three-class models, as the prose names it after "on": the chapter's
    own, or the one this run gives them (its setting is in the chapter's "what we chose" table)."""
    main, own = beyond.budget(bcfg), beyond.budget(bcfg, leave_out=True)
    if own == main:
        return "the chapter's budget"
    longer = "shorter" if own[0] < main[0] else "longer"
    return f"a {longer} budget of its own, up to {own[0]} epochs"


def dims_budget_wording(bcfg: StudyABeyondConfig) -> str:
    """What the dimension sweep's budget means for its comparison, as sentences of the prose."""
    main, own = beyond.budget(bcfg), beyond.budget(bcfg, dims_sweep=True)
    if own[0] >= main[0]:
        return "That is the chapter's budget, so every D is trained as long as the Study A model."
    return (f"That is shorter than the chapter's {main[0]} epochs. So the sweep compares the dimensions early in "
            "training, where a model stands below its final accuracy. The ranking of D may differ at convergence; "
            "the paper profile gives every D the chapter's budget.")


def _seed_hits(bcfg: StudyABeyondConfig, train_level: str, level: str, data_root=None, part: str = PART) -> np.ndarray:
    """(seeds x images): hits of the model trained at ``train_level``, one row per training seed."""
    return np.stack([_hits(b, beyond.hdmann_outputs(b, train_level, None, None, data_root), level, part)
                     for b in beyond.seed_configs(bcfg)])


def matrix_rows(bcfg: StudyABeyondConfig, data_root=None, part: str = PART) -> list[dict]:
    """Accuracy per training and test level: the mean over the training seeds with a 95 % interval
    resampling seeds and images, and the seeds' range."""
    rows = []
    for train_level in beyond.training_levels(bcfg):
        epochs = [beyond.hdmann_outputs(b, train_level, None, None, data_root)["epochs_run"]
                  for b in beyond.seed_configs(bcfg)]
        for level in study_a.levels(bcfg.study_a):
            hit = _seed_hits(bcfg, train_level, level, data_root, part)
            acc, low, high = evaluation.seed_image_ci(hit, bcfg.bootstrap_samples, bcfg.bootstrap_seed)
            rows.append({"train": train_level, "test": level, "accuracy": acc, "ci_low": low, "ci_high": high,
                         "seed_min": float(hit.mean(1).min()), "seed_max": float(hit.mean(1).max()),
                         "seeds": len(hit), "n": int(hit.shape[1]), "epochs_run": ", ".join(map(str, epochs))})
    return rows


def matrix(bcfg: StudyABeyondConfig, data_root=None) -> tuple[list[str], list[str], np.ndarray]:
    rows = matrix_rows(bcfg, data_root)
    train_levels, test_levels = beyond.training_levels(bcfg), study_a.levels(bcfg.study_a)
    m = np.array([[next(r["accuracy"] for r in rows if r["train"] == t and r["test"] == s)
                   for s in test_levels] for t in train_levels])
    return train_levels, test_levels, m


def _low_levels(bcfg: StudyABeyondConfig) -> list[str]:
    return [lv for lv in study_a.levels(bcfg.study_a) if lv != "original"
            and _quality(lv) <= bcfg.ood_compressed_max_quality]


def _gain_outcome(low: float, high: float) -> str:
    """A gain shown (interval above 0), a loss shown (below 0), or neither."""
    return evaluation.HOLDS if low > 0 else evaluation.FAILS if high < 0 else evaluation.UNDECIDED


def _references(bcfg: StudyABeyondConfig, data_root, part: str) -> tuple[np.ndarray, np.ndarray]:
    """(seeds x images) hits of the originals-trained models: at the low qualities (pooled) and on originals."""
    low_ref = np.concatenate([_seed_hits(bcfg, "original", lv, data_root, part) for lv in _low_levels(bcfg)], axis=1)
    return low_ref, _seed_hits(bcfg, "original", "original", data_root, part)


def _gain_and_change(bcfg: StudyABeyondConfig, train_level: str, low_ref: np.ndarray, orig_ref: np.ndarray,
                     data_root, part: str) -> tuple[np.ndarray, np.ndarray]:
    """(seeds x images): the row's hit minus the same seed's originals model's, at the low qualities
    (pooled) and on originals: what :func:`matrix_verdicts` decides on."""
    low_new = np.concatenate([_seed_hits(bcfg, train_level, lv, data_root, part) for lv in _low_levels(bcfg)], axis=1)
    return (low_new.astype(float) - low_ref,
            _seed_hits(bcfg, train_level, "original", data_root, part).astype(float) - orig_ref)


def matrix_verdicts(bcfg: StudyABeyondConfig, data_root=None, part: str = PART, check: str | None = "test") -> list[dict]:
    """Per compressed (or mixed) training row, on ``part``: its gain over the originals-trained
    model at the low qualities (q <= ``ood_compressed_max_quality``, pooled) and its change on
    originals, paired on the same images and seeds (each seed's row against the same seed's
    originals model). Each is decided per seed and seed-pooled (:func:`hdmann.methods.evaluation.seed_verdict`):
    a gain needs its interval above 0; "no loss on originals" is non-inferiority with Study A's
    ``flat_margin``."""
    a = bcfg.study_a
    low_ref, orig_ref = _references(bcfg, data_root, part)
    rows = []
    for train_level in beyond.training_levels(bcfg):
        if train_level == "original":
            continue
        gain_per_image, change_per_image = _gain_and_change(bcfg, train_level, low_ref, orig_ref, data_root, part)
        gain_seeds, gain = evaluation.seed_intervals(gain_per_image, bcfg.bootstrap_samples, bcfg.bootstrap_seed)
        change_seeds, change = evaluation.seed_intervals(change_per_image, bcfg.bootstrap_samples, bcfg.bootstrap_seed)
        gains = evaluation.seed_verdict([_gain_outcome(*g[1:]) for g in gain_seeds], _gain_outcome(*gain[1:]),
                                        a.seed_agreement)
        keeps = evaluation.seed_verdict([evaluation.non_inferiority(c[1], c[2], a.flat_margin) for c in change_seeds],
                                        evaluation.non_inferiority(change[1], change[2], a.flat_margin),
                                        a.seed_agreement)
        rows.append({"trained at": train_level,
                     "gain at low quality": f"{gain[0]:+.3f} [{gain[1]:+.3f}, {gain[2]:+.3f}]",
                     "gains at low quality": gains["verdict"], "gain seeds": evaluation.seed_wording(gains),
                     "change on originals": f"{change[0]:+.3f} [{change[1]:+.3f}, {change[2]:+.3f}]",
                     "no loss on originals": keeps["verdict"], "no-loss seeds": evaluation.seed_wording(keeps),
                     "no-loss pooled": keeps["pooled"], "no-loss seed outcomes": keeps["seed_outcomes"],
                     "gain": gain[0], "change": change[0], "change interval": tuple(change),
                     "seeds": gains["seeds"], "needed": gains["needed"]})
    if check:  # the held-out part's numbers beside each verdict, and whether it contradicts it
        for row, held in zip(rows, matrix_verdicts(bcfg, data_root, check, check=None)):
            name = study_a_report.PART_NAMES.get(check, check)
            row[f"{name}: gain"] = held["gain at low quality"]
            row[f"{name}: gain check"] = vd.held_out_check(row["gains at low quality"], held["gains at low quality"])
            row[f"{name}: change on originals"] = held["change on originals"]
            row[f"{name}: no-loss check"] = vd.held_out_check(row["no loss on originals"], held["no loss on originals"])
    return rows


HELD_OUT_RULE = ("the test folder, which no choice touched, decides each verdict again by the same rule and seed "
                 "agreement: it confirms the verdict when it reaches the same outcome, contradicts it when it reaches "
                 "the opposite, and is undecided there otherwise. It holds 16 images per class, too few to decide a "
                 "margin of a few points on its own, so it can refute a verdict but not establish one")
MATRIX_RULE = ("per seed and seed-pooled (95 % intervals over images, and over seeds for the pooled one; paired with the "
               "same seed's originals-trained model): a gain at low quality holds when its interval lies above 0 and "
               "does not hold when it lies below 0; no loss on originals holds when the change's interval lies above "
               "-margin (non-inferiority) and does not hold when it lies wholly below -margin; otherwise undecided")


def dimension_rows(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    rows = []
    for dim in bcfg.dims:
        out = beyond.hdmann_outputs(bcfg, "original", dim, None, data_root, dims_sweep=True)
        seconds, cpu = list(out["epoch_seconds"]), list(out["epoch_cpu_seconds"])
        steady = seconds[1:] if len(seconds) > 1 else seconds  # the first epoch also compiles
        steady_cpu = cpu[1:] if len(cpu) > 1 else cpu
        margin = embedding.cluster_metrics(out[f"{PART}_original"], out[f"{PART}_labels"], out["keys"])["key_margin"]
        for level in study_a.levels(bcfg.study_a):
            acc, low, high = _ci_mean(bcfg, _hits(bcfg, out, level))
            rows.append({"dim": dim, "level": level, "accuracy": acc, "ci_low": low, "ci_high": high,
                         "seconds_per_epoch": float(np.median(steady)), "first_epoch_seconds": float(seconds[0]),
                         "cpu_seconds_per_epoch": float(np.median(steady_cpu)),
                         "key_margin_original": margin, "key_margin_scaled": margin / np.sqrt(dim)})
    return rows


def matrix_verdict_columns(low_level: str) -> dict[str, str]:
    """``report.table(show=...)`` for the train-on-compressed verdicts."""
    return {"trained at": "trained at", "gain at low quality": f"gain at {low_level} and below (95 % CI)",
            "gains at low quality": "gain", "gain seeds": "gain: seeds",
            "change on originals": "change on originals (95 % CI)", "no loss on originals": "no loss on originals",
            "no-loss seeds": "no loss: seeds", "test folder: gain": "test folder: gain",
            "test folder: gain check": "test folder: gain check",
            "test folder: change on originals": "test folder: change on originals",
            "test folder: no-loss check": "test folder: no-loss check"}


DIMENSION_COLUMNS = {"cpu_seconds_per_epoch": "CPU s per epoch", "seconds_per_epoch": "wall s per epoch",
                     "key_margin_scaled": "key margin / √D"}
