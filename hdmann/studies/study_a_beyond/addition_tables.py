"""Study A beyond the paper: a class added to the frozen model as a key written from a few of its images,
beside a linear probe, with the rule the chapter's verdict reads."""
from __future__ import annotations

import numpy as np

from hdmann.engine import data
from hdmann.methods import evaluation
from hdmann.methods.words import listing
from hdmann.studies.study_a_beyond import pipeline as beyond
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.measures import _hits, wilson


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
    base = np.mean(_hits(b, beyond.outputs_on_every_set(b, "study_a", data_root), "original"))
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
