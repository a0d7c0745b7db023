"""Study A beyond the paper: tables, intervals and verdicts from the cached stages of
:mod:`hdmann.studies.study_a_beyond.pipeline`. Nothing here trains; every verdict states its rule in a ``test`` column.
"""
from __future__ import annotations

import numpy as np

from hdmann.engine import data
from hdmann.methods import embedding, evaluation, verdicts as vd
from hdmann.methods.memory import KeyMemory
from hdmann.methods.words import listing
from hdmann.studies.study_a import pipeline as study_a, report as study_a_report
from hdmann.studies.study_a_beyond import pipeline as beyond
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig

PART = "val"  # every table is on the validation part (originals of isic4's train folder never trained on)


def _memory(keys: np.ndarray) -> KeyMemory:
    memory = KeyMemory(keys.shape[1], 0)
    memory.keys, memory.labels = keys.astype(np.float32), [str(i) for i in range(len(keys))]
    return memory


def _quality(level: str) -> int:
    return 100 if level == "original" else int(level[1:])


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (used where a bootstrap over draws would mix sources)."""
    if n == 0:
        return float("nan"), float("nan")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def _hits(bcfg, outputs: dict, level: str, part: str = PART) -> np.ndarray:
    return _memory(outputs["keys"]).predict(outputs[f"{part}_{level}"], bcfg.study_a.distance) == outputs[f"{part}_labels"]


def _ci_mean(bcfg, values) -> tuple[float, float, float]:
    return evaluation.bootstrap_ci(lambda v: float(np.nanmean(v)), np.asarray(values, float),
                                   n_boot=bcfg.bootstrap_samples, seed=bcfg.bootstrap_seed)


def _paired(bcfg, a, b) -> tuple[float, float, float]:
    """Mean of b minus mean of a on the same images, with a paired bootstrap interval."""
    return evaluation.bootstrap_ci(lambda x, y: float(np.mean(y) - np.mean(x)), a, b,
                                   n_boot=bcfg.bootstrap_samples, seed=bcfg.bootstrap_seed)


# --------------------------------------------------------------------------------------------
# item 1: train x test matrix
# --------------------------------------------------------------------------------------------
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


def seed_values(bcfg: StudyABeyondConfig, data_root=None, part: str = PART) -> list[dict]:
    """Each training seed's own value of the train x test matrix's cells and of the gains and changes
    the chapter glues (``gain_*``, ``change_*``, ``study_a_original``), whose seed mean they make; and,
    not glued, each seed's out-of-distribution AUROCs and added-class recalls, which the verdicts test
    seed by seed (the chapter's tables give the first seed's)."""
    rows = []
    for train_level in beyond.training_levels(bcfg):
        for level in study_a.levels(bcfg.study_a):
            glued = (train_level, level) == ("original", "original")
            rows.append({"chapter": "study_a_beyond", "number": "study_a_original" if glued else
                         f"matrix cell: trained at {train_level}, tested at {level}", "glued": glued,
                         "what": f"accuracy, trained at {train_level}, tested at {level}",
                         "values": _seed_hits(bcfg, train_level, level, data_root, part).mean(axis=1).tolist()})
    probes = beyond.probe_seed_configs(bcfg)
    for task in [t for t in _tasks(bcfg) if not t.startswith("compressed")]:
        rows.append({"chapter": "study_a_beyond", "number": f"OOD AUROC, {task}", "glued": False,
                     "what": f"out-of-distribution AUROC of the distance to the nearest key, {task} (the chapter's "
                             "table: the first seed's)", "values": [_ood_point(b, task, data_root) for b in probes]})
    rule = headline_rule(bcfg)
    for cls in bcfg.new_classes:
        rows.append({"chapter": "study_a_beyond", "number": f"added-class recall, {cls}", "glued": False,
                     "what": f"recall of {cls} added as a fifth key ({rule}, all support images; the chapter's table: "
                             "the first seed's)",
                     "values": [next(r["new_accuracy"] for r in headline_addition_rows(b, data_root) if r["class"] == cls)
                                for b in probes]})
    low_ref, orig_ref = _references(bcfg, data_root, part)
    for train_level in beyond.training_levels(bcfg):
        if train_level == "original":
            continue
        gain, change = _gain_and_change(bcfg, train_level, low_ref, orig_ref, data_root, part)
        rows.append({"chapter": "study_a_beyond", "number": f"gain_{train_level}", "glued": True,
                     "what": f"gain at q<={bcfg.ood_compressed_max_quality} of training at {train_level}",
                     "values": gain.mean(axis=1).tolist()})
        rows.append({"chapter": "study_a_beyond", "number": f"change_{train_level}", "glued": True,
                     "what": f"change on originals of training at {train_level}", "values": change.mean(axis=1).tolist()})
    return rows


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


# --------------------------------------------------------------------------------------------
# item 2: representation drift and saliency agreement
# --------------------------------------------------------------------------------------------
REFERENCE = "flipped"


def drift_rows(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    """Per level and for the mirrored image: RMS distance of the Study A model's output from the same
    image's uncompressed output, and the share of images whose nearest key changes."""
    out = beyond.model_outputs_on_everything(bcfg, "study_a", data_root)
    memory = _memory(out["keys"])
    base = out[f"{PART}_original"]
    base_key = memory.predict(base, bcfg.study_a.distance)
    rows = []
    for level in [REFERENCE] + study_a.levels(bcfg.study_a):
        other = out[f"{PART}_{level}"]
        dist = np.sqrt(np.mean((other - base) ** 2, axis=1))
        changed = memory.predict(other, bcfg.study_a.distance) != base_key
        d, d_low, d_high = _ci_mean(bcfg, dist)
        c, c_low, c_high = _ci_mean(bcfg, changed)
        rows.append({"level": level, "quality": None if level == REFERENCE else _quality(level),
                     "rms_distance": d, "rms_low": d_low, "rms_high": d_high,
                     "key_changed": c, "changed_low": c_low, "changed_high": c_high})
    return rows


def saliency_rows(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    sal = beyond.saliency_agreement(bcfg, data_root)
    rows = []
    for method in ("grad_cam", "input_gradients"):
        for level in [REFERENCE] + study_a.levels(bcfg.study_a):
            rank, top = sal[f"{method}_{level}_rank"], sal[f"{method}_{level}_top"]
            r, r_low, r_high = _ci_mean(bcfg, rank)
            t, t_low, t_high = _ci_mean(bcfg, top)
            rows.append({"method": method, "level": level, "quality": None if level == REFERENCE else _quality(level),
                         "rank_corr": r, "rank_low": r_low, "rank_high": r_high,
                         "top_overlap": t, "top_low": t_low, "top_high": t_high,
                         "undefined_rank": int(np.isnan(rank).sum()), "n": int(len(rank))})
    return rows


DEPART_RULE = ("the highest JPEG quality whose 95 % interval lies entirely beyond the value for the mirrored "
               "uncompressed image (a change the model was trained to ignore); '-' if none does")


def departures(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    """The quality at which each measure departs from originals, by :data:`DEPART_RULE`."""
    measures = []
    drift = drift_rows(bcfg, data_root)
    measures.append(("output RMS distance", drift, "rms_distance", "rms_low", "rms_high", +1))
    measures.append(("nearest key changed", drift, "key_changed", "changed_low", "changed_high", +1))
    sal = saliency_rows(bcfg, data_root)
    for method in ("grad_cam", "input_gradients"):
        rows = [r for r in sal if r["method"] == method]
        measures.append((f"{method} rank correlation", rows, "rank_corr", "rank_low", "rank_high", -1))
        measures.append((f"{method} top-{bcfg.top_share:.0%} overlap", rows, "top_overlap", "top_low", "top_high", -1))
    out = []
    for name, rows, value, low, high, sign in measures:
        ref = next(r[value] for r in rows if r["level"] == REFERENCE)
        graded = sorted((r for r in rows if r["level"] not in (REFERENCE, "original")), key=lambda r: -r["quality"])
        beyond_ref = [r for r in graded if (r[low] > ref if sign > 0 else r[high] < ref)]
        out.append({"measure": name, "mirrored reference": ref,
                    "departs at": beyond_ref[0]["level"] if beyond_ref else "-",
                    "worst level value": graded[-1][value] if graded else float("nan")})
    return out


MEASURE_WORDS = {"output RMS distance": "The distance between the two outputs",
                 "nearest key changed": "the share of images whose nearest key changes"}


def departure_wording(rows: list[dict]) -> str:
    """One sentence on where the model's output departs (:func:`departures`'s first two measures), in
    words: "departs at q20", or "does not depart at any level tested" for the table's "-"."""
    said = []
    for row in rows:
        if row["measure"] in MEASURE_WORDS:
            where = f"departs at {row['departs at']}" if row["departs at"] != "-" else "does not depart at any level tested"
            said.append(f"{MEASURE_WORDS[row['measure']]} {where}")
    return "; ".join(said) + "." if said else "No output measure was taken."


# --------------------------------------------------------------------------------------------
# item 3: class addition
# --------------------------------------------------------------------------------------------
def addition_rows(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    """The class-addition rows with a Wilson 95 % interval over the held-out images of the new class
    (for k below "all", on the accuracy averaged over the draws of the k support images)."""
    rows = []
    for r in beyond.class_addition(bcfg, data_root)["rows"]:
        r = dict(r)
        r["new_low"], r["new_high"] = wilson(int(round(r["new_accuracy"] * r["n_new"])), r["n_new"])
        r["old_low"], r["old_high"] = wilson(int(round(r["old_accuracy"] * r["n_old"])), r["n_old"])
        r["k"] = f"all ({r['k']})" if r["all"] else str(r["k"])
        rows.append(r)
    return rows


def headline_rule(bcfg: StudyABeyondConfig) -> str:
    """The chapter's rule for writing and comparing a new key: the first of ``addition_rules``."""
    return bcfg.addition_rules[0]


def headline_addition_rows(b: StudyABeyondConfig, data_root=None) -> list[dict]:
    """The rows the verdict reads: each isic-other class added by the chapter's rule from all its
    support images, tested on originals."""
    rule = headline_rule(b)
    return [r for r in addition_rows(b, data_root) if r["all"] and r["method"] == rule
            and r["level"] == "original" and r["source"] == "isic-other"]


def _addition_outcome(b: StudyABeyondConfig, data_root=None) -> dict:
    """The class-addition rule on one training seed's frozen Study A model (``b``: its config)."""
    rows = headline_addition_rows(b, data_root)
    chance = 1 / (len(data.ISIC_CLASSES) + 1)
    base = np.mean(_hits(b, beyond.model_outputs_on_everything(b, "study_a", data_root), "original"))
    recognised = all(r["new_low"] > chance for r in rows)
    kept = all(r["old_accuracy"] >= 0.9 * base for r in rows)
    measured = "; ".join(f"{r['class']}: new {r['new_accuracy']:.3f} [{r['new_low']:.3f}, {r['new_high']:.3f}], "
                         f"old {r['old_accuracy']:.3f}" for r in rows) + \
        f"; old four before addition ({b.study_a.distance}) {base:.3f}"
    return {"outcome": evaluation.HOLDS if recognised and kept else evaluation.FAILS, "measured": measured,
            "chance": chance}


BUNDLE_WORDS = {"mean": "the mean key", "majority": "the majority key"}
DISTANCE_WORDS = {"l2": "Euclidean distance", "hamming": "Hamming distance", "cosine": "cosine distance"}


def rule_words(rule: str) -> str:
    """A key-writing rule ``<bundle>-<distance>`` in words: "mean-l2" -> "the mean key under Euclidean
    distance"."""
    bundle, _, distance = rule.partition("-")
    return f"{BUNDLE_WORDS.get(bundle, bundle)} under {DISTANCE_WORDS.get(distance, distance)}"


def class_words(name: str) -> str:
    """A diagnosis as the prose names it: "squamous_cell_carcinoma" -> "squamous cell carcinoma"."""
    return name.replace("_", " ")


def _addition_all(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["all"] and r["level"] == "original" and r["source"] == "isic-other"]


def addition_summary(rows: list[dict], rule: str) -> list[dict]:
    """The class-addition numbers the prose speaks of, one row per measure and a column per added
    diagnosis: each key added from all its support images, tested on uncompressed held-out images."""
    full = _addition_all(rows)
    classes = list(dict.fromkeys(r["class"] for r in full))
    by = {(r["method"], r["class"]): r for r in full}
    measures = [("new class recalled: " + rule_words(rule), rule, "new"),
                ("old classes kept: " + rule_words(rule), rule, "old"),
                ("old classes before the addition", rule, "before"),
                ("key nearest to its own outputs", rule, "self"),
                ("new class recalled: linear probe", "probe", "new"),
                ("old classes kept: linear probe", "probe", "old")]
    measures += [(f"new class recalled: {rule_words(m)}", m, "new") for m in dict.fromkeys(r["method"] for r in full)
                 if m not in (rule, "probe")]
    out = []
    for label, method, what in measures:
        row = {"measure": label}
        for c in classes:
            r = by.get((method, c))
            if r is None:
                row[class_words(c)] = "—"
            elif what == "new":
                row[class_words(c)] = f"{r['new_accuracy']:.3f} [{r['new_low']:.3f}, {r['new_high']:.3f}]"
            else:
                key = {"old": "old_accuracy", "before": "old_before", "self": "self_nearest"}[what]
                row[class_words(c)] = f"{r[key]:.3f}"
        out.append(row)
    return out


def addition_wording(rows: list[dict], rule: str) -> str:
    """Which recognises an added diagnosis more often, the written key or the linear probe given the same
    images, diagnosis by diagnosis, by their Wilson 95 % intervals (overlapping: neither)."""
    full = _addition_all(rows)
    by = {(r["method"], r["class"]): r for r in full}
    probe_ahead, key_ahead, overlap = [], [], []
    for c in dict.fromkeys(r["class"] for r in full):
        key, probe = by.get((rule, c)), by.get(("probe", c))
        if key is None or probe is None:
            continue
        if probe["new_low"] > key["new_high"]:
            probe_ahead.append(class_words(c))
        elif key["new_low"] > probe["new_high"]:
            key_ahead.append(class_words(c))
        else:
            overlap.append(class_words(c))
    said = []
    if key_ahead:
        said.append(f"The written key recognises {listing(key_ahead)} more often than the linear probe given the "
                    "same images.")
    if probe_ahead:
        said.append(f"The linear probe given the same images recognises {listing(probe_ahead)} more often than "
                    "the written key.")
    if overlap:
        said.append(f"For {listing(overlap)}, the two intervals overlap: neither is shown to recognise it more "
                    "often.")
    return " ".join(said) or "No added class has both a written key and a linear probe to compare."


ADDITION_RULE = ("with the rule {rule} and all but the held-out images, every new class's recall has a Wilson 95 % "
                 "lower bound above 5-way chance ({chance:.2f}) and the old four keep at least 90 % of their accuracy "
                 "under the paper's {distance} rule before the addition; decided on each training seed's model")


# --------------------------------------------------------------------------------------------
# item 4: out-of-distribution scores and selective accuracy
# --------------------------------------------------------------------------------------------
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
    out = beyond.model_outputs_on_everything(b, "study_a", data_root)
    inside, outside = _tasks(b)[task]
    score = np.concatenate([ood_score(b, "study_a", out[inside], out["keys"]),
                            ood_score(b, "study_a", out[outside], out["keys"])])
    return evaluation.auroc(np.concatenate([np.zeros(len(out[inside])), np.ones(len(out[outside]))]), score)


def ood_rows(bcfg: StudyABeyondConfig, data_root=None, seed_config: StudyABeyondConfig | None = None) -> list[dict]:
    """AUROC per model and task with a stratified bootstrap interval; for HD-MANN also its AUROC minus
    the softmax CNN's on the same images, with a paired (same resamples) stratified interval.
    ``seed_config``: probe that seed's Study A model (one of :func:`hdmann.studies.study_a_beyond.pipeline.probe_seed_configs`)
    against the one softmax CNN (trained on the first seed only)."""
    outputs = {"study_a": beyond.model_outputs_on_everything(seed_config or bcfg, "study_a", data_root),
               "cross_entropy": beyond.model_outputs_on_everything(bcfg, "cross_entropy", data_root)}
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
    out = beyond.model_outputs_on_everything(bcfg, "cross_entropy", data_root)
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
        out = beyond.model_outputs_on_everything(bcfg, which, data_root)
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


# --------------------------------------------------------------------------------------------
# item 6: colour-only baseline
# --------------------------------------------------------------------------------------------
def colour_rows(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    """Per level: the colour-only classifier (one fit: it has no seed) beside HD-MANN's seed mean,
    each with a 95 % interval (images; seeds and images for HD-MANN), and their paired difference."""
    colour = beyond.colour_baseline(bcfg, data_root)
    a = bcfg.study_a
    rows = []
    for level in study_a.levels(a):
        shortcut = (colour[f"{PART}_{level}"] == colour[f"{PART}_labels"]).astype(float)
        model = study_a_report.hits(a, data_root, PART, level).astype(float)
        row = {"level": level}
        for name, hit in (("colour", shortcut[None]), ("hdmann_study_a", model)):
            acc, low, high = evaluation.seed_image_ci(hit, bcfg.bootstrap_samples, bcfg.bootstrap_seed)
            row.update({name: acc, f"{name}_low": low, f"{name}_high": high})
        d = evaluation.seed_image_ci(model - shortcut[None], bcfg.bootstrap_samples, bcfg.bootstrap_seed)
        row.update({"difference": d[0], "difference_low": d[1], "difference_high": d[2]})
        rows.append(row)
    return rows


def first_departure(dep: list[dict]) -> str | None:
    """The highest quality at which any measure of :func:`departures` departs (None: none does)."""
    named = [d["departs at"] for d in dep if d["departs at"] != "-"]
    return max(named, key=_quality) if named else None


def agreed_departure(per_seed: list[str | None], share: float) -> tuple[int, int]:
    """(quality, seeds needed): the highest JPEG quality by which at least ``share`` of the seeds
    (rounded up) have departed (each seed's :func:`first_departure`); quality 0 if too few ever do."""
    needed = evaluation.seeds_needed(len(per_seed), share)
    ranked = sorted((_quality(q) if q else 0 for q in per_seed), reverse=True)
    return ranked[needed - 1], needed


def ood_display(rows: list[dict], softmax: dict) -> list[dict]:
    """The out-of-distribution table as the page shows it: HD-MANN's seed-mean AUROC with its interval
    and each seed's value, the softmax CNN's (one seed), and their paired difference."""
    return [{"task": r["task"], "HD-MANN AUROC (seed mean)": f"{r['auroc']:.3f} [{r['low']:.3f}, {r['high']:.3f}]",
             "HD-MANN by seed": ", ".join(f"{x:.3f}" for x in r["per_seed"]),
             "softmax CNN AUROC (one seed)": f"{softmax[r['task']]['auroc']:.3f}",
             "difference (paired 95 % CI)": f"{r['difference']:+.3f} [{r['difference_low']:+.3f}, {r['difference_high']:+.3f}]"}
            for r in rows]


def _at(levels: list[str]) -> str:
    return listing("the originals" if lv == "original" else lv for lv in levels)


def colour_wording(rows: list[dict]) -> str:
    """Where HD-MANN stands against colour alone, level by level, by its paired interval: the levels
    at which it is ahead, level with it, or behind (an interval that includes 0 is level)."""
    ahead = [r["level"] for r in rows if r["difference_low"] > 0]
    behind = [r["level"] for r in rows if r["difference_high"] < 0]
    level = [r["level"] for r in rows if r["level"] not in ahead + behind]
    if not rows:
        return "No level has an interval to decide on."

    def where(levels: list[str]) -> str:
        return "at every level" if len(levels) == len(rows) else f"at {_at(levels)}"

    said = [(f"ahead of colour alone {where(ahead)}", "ahead of it") if ahead else None,
            (f"level with colour alone {where(level)}", "level with it") if level else None,
            (f"behind colour alone {where(behind)}", "behind it") if behind else None]
    said = [s for s in said if s]
    first = said[0][0]
    rest = [s[0].replace("colour alone", "it", 1) for s in said[1:]]
    return "HD-MANN is " + "; ".join([first, *rest]) + ", by the paired 95 % interval of their difference."


# --------------------------------------------------------------------------------------------
# what the page shows: the few columns the prose needs, under human headers (the CSVs keep every column)
# --------------------------------------------------------------------------------------------
def matrix_verdict_columns(low_level: str) -> dict[str, str]:
    """``report.table(show=...)`` for the train-on-compressed verdicts."""
    return {"trained at": "trained at", "gain at low quality": f"gain at {low_level} and below (95 % CI)",
            "gains at low quality": "gain", "gain seeds": "gain: seeds",
            "change on originals": "change on originals (95 % CI)", "no loss on originals": "no loss on originals",
            "no-loss seeds": "no loss: seeds", "test folder: gain": "test folder: gain",
            "test folder: gain check": "test folder: gain check",
            "test folder: change on originals": "test folder: change on originals",
            "test folder: no-loss check": "test folder: no-loss check"}


METHOD_WORDS = {"grad_cam": "Grad-CAM", "input_gradients": "input gradients"}


def measure_words(measure: str) -> str:
    """A measure of :func:`departures` as the page names it ("grad_cam rank correlation" -> "Grad-CAM rank
    correlation")."""
    for code, words in METHOD_WORDS.items():
        measure = measure.replace(code, words)
    return measure


def departure_display(rows: list[dict]) -> list[dict]:
    """:func:`departures` as the page shows it: measures in words, "never" for a measure that does not depart."""
    return [{"measure": measure_words(r["measure"]), "mirrored original": r["mirrored reference"],
             "departs at": r["departs at"] if r["departs at"] != "-" else "never (levels tested)",
             "value at the lowest quality": r["worst level value"]} for r in rows]


SOFTMAX_COLUMNS = {"task": "task", "max_softmax_in": "mean max. probability, inside",
                   "max_softmax_out": "mean max. probability, outside", "auroc": "AUROC (1 − max. probability)",
                   "auroc_reversed": "AUROC (max. probability)"}
DIMENSION_COLUMNS = {"cpu_seconds_per_epoch": "CPU s per epoch", "seconds_per_epoch": "wall s per epoch",
                     "key_margin_scaled": "key margin / √D"}


def colour_display(rows: list[dict]) -> list[dict]:
    """The colour baseline as the page shows it: each accuracy and the paired difference with its interval."""
    def ci(r, name, sign=""):
        return f"{r[name]:{sign}.3f} [{r[name + '_low']:{sign}.3f}, {r[name + '_high']:{sign}.3f}]"
    return [{"level": r["level"], "colour alone (95 % CI)": ci(r, "colour"),
             "HD-MANN, seed mean (95 % CI)": ci(r, "hdmann_study_a"),
             "HD-MANN − colour, paired (95 % CI)": ci(r, "difference", "+")} for r in rows]
