"""The questions Study A leaves open and the advantages it claims for HD-MANN without measuring
them, decided as :class:`hdmann.methods.verdicts.Verdict` records on every training seed's model.

The numbers behind each verdict are seed means with intervals that resample seeds and images; the
chapter's tables that show one seed say so. Nothing here is a stage.
"""
from __future__ import annotations

import numpy as np

from hdmann.methods import bootstrap, evaluation, verdicts as vd
from hdmann.methods.verdicts import Claim, Effect, FAILS, HOLDS, NOT_TESTABLE, Part, UNDECIDED
from hdmann.studies.study_a import report as study_a_report
from hdmann.studies.study_a.pipeline import levels
from hdmann.studies.study_a_beyond import pipeline as beyond, report
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig, study_a_beyond_config

CHAPTER = "study_a_beyond"
LABEL = "claims-beyond"
STUDY = "Study A, beyond the paper"
GENERALISES = Claim("X1", STUDY, "A model trained on compressed images generalises to uncompressed images",
                    "asked, not answered (future work)", CHAPTER,
                     short="compressed training generalises to originals")
BREAKS = Claim("X2", STUDY, "Compression moves the internal representation before it moves accuracy",
               "asked where it breaks (future work)", CHAPTER,
                short="the representation moves before accuracy")
ADDITION = Claim("X3", STUDY, "A class can be added without retraining", "claimed, not measured", CHAPTER,
                  short="a class added without retraining")
OOD = Claim("X4", STUDY, "Out-of-distribution inputs are told apart by their distance to the keys",
            "claimed, not measured", CHAPTER,
             short="out-of-distribution inputs told apart")
CLAIMS = (GENERALISES, BREAKS, ADDITION, OOD)


def _quality(level: str | None) -> int:
    """A level's JPEG quality (originals 100; None, never: 0), so that higher means milder."""
    return 0 if level is None else 100 if level == "original" else int(level[1:])


# ----------------------------------------------------------------------------------------- X1
def generalises(bcfg: StudyABeyondConfig, data_root=None, matrix: list[dict] | None = None) -> vd.Verdict:
    """No accuracy loss on originals, beyond Study A's margin, for every single-level training row,
    against the originals-trained model of the same seed; decided per seed and seed-pooled."""
    rows = [r for r in (matrix if matrix is not None else report.matrix_verdicts(bcfg, data_root))
            if r["trained at"] != beyond.MIXED]
    m = bcfg.study_a.flat_margin
    if not rows:
        return vd.from_parts(GENERALISES, [Part("no loss on originals", NOT_TESTABLE,
                                                "this profile trains no model on compressed images")], None,
                             "needs a model trained at a compressed level", margin=m)
    parts = [Part(f"trained at {r['trained at']}", r["no-loss pooled"]) for r in rows]
    worst = min(rows, key=lambda r: r["change"])
    per_seed = [evaluation.all_of(r["no-loss seed outcomes"][s] for r in rows) for s in range(rows[0]["seeds"])]
    v = vd.from_parts(
        GENERALISES, parts, Effect(f"accuracy change on originals of training at {worst['trained at']}, the largest "
                                   "loss (seed mean)", *worst["change interval"]), margin=m,
        rule=f"for every single-level training row, no accuracy loss on originals beyond {m:g} against the "
             "originals-trained model of the same seed and budget: the 95 % interval of the change lies above "
             f"−{m:g}, per seed and seed-pooled",
        details="; ".join(f"trained at {r['trained at']}: {r['change on originals']} on originals, "
                          f"{r['gain at low quality']} at quality {bcfg.ood_compressed_max_quality} and below"
                          for r in rows))
    return vd.with_seeds(v, per_seed, bcfg.study_a.seed_agreement)


# ----------------------------------------------------------------------------------------- X2
def accuracy_departure(bcfg: StudyABeyondConfig, hit_rows, ladder: list[str]) -> str | None:
    """The mildest level whose accuracy change from the original lies wholly below −margin, from
    (seeds x images) hits per level: pooled when several seeds, else that seed's."""
    m = bcfg.study_a.flat_margin
    base = hit_rows["original"].astype(float)
    for lv in sorted((lv for lv in ladder if lv != "original"), key=_quality, reverse=True):
        _, low, high = evaluation.seed_image_ci(hit_rows[lv] - base, bcfg.bootstrap_samples, bcfg.bootstrap_seed)
        if high < -m:
            return lv
    return None


def breaks(bcfg: StudyABeyondConfig, data_root=None) -> vd.Verdict:
    """The mildest quality at which a measure of the representation departs (output drift, nearest
    key, saliency agreement, beyond the mirrored image's yardstick) against the mildest at which
    accuracy falls beyond the margin: holds when the representation departs at a milder quality."""
    a = bcfg.study_a
    ladder = levels(a)
    hits = {lv: study_a_report.hits(a, data_root, report.PART, lv) for lv in ladder}
    probes = beyond.probe_seed_configs(bcfg)
    moved = [report.first_departure(report.departures(b, data_root)) for b in probes]
    fell = [accuracy_departure(bcfg, {lv: h[s:s + 1] for lv, h in hits.items()}, ladder) for s in range(len(probes))]
    quality, needed = report.agreed_departure(moved, a.seed_agreement)
    pooled_fall = accuracy_departure(bcfg, hits, ladder)

    def outcome(rep_q: int, acc_level: str | None) -> str:
        return HOLDS if rep_q > _quality(acc_level) else FAILS

    per_seed = [outcome(_quality(mv), fl) for mv, fl in zip(moved, fell)]
    shown = lambda lv: lv or "none"  # noqa: E731 (a label, not logic)
    v = vd.from_parts(
        BREAKS, [Part("the representation departs at a milder quality than accuracy falls",
                      outcome(quality, pooled_fall))],
        Effect("mildest quality where the representation departs (agreed over seeds), and where accuracy falls",
               float(quality), signed=False,
               shown=f"representation: {f'q{quality}' if quality else 'never'}; accuracy: "
                     f"{pooled_fall or 'never beyond the margin'}"),
        rule=report.DEPART_RULE + f"; the representation's quality is the mildest at which at least {needed} of "
             f"{len(moved)} seeds have departed; accuracy falls at the mildest quality whose change from the original "
             f"lies wholly below −{a.flat_margin:g}; holds when the first is milder",
        details=(f"representation departs at q{quality} (seed by seed: {', '.join(shown(m) for m in moved)}); accuracy "
                 f"falls beyond the margin at {shown(pooled_fall)} (seed by seed: {', '.join(shown(f) for f in fell)})"
                 if quality else "no measure departs in enough seeds"),
        values={"representation_quality": quality, "accuracy_quality": _quality(pooled_fall)})
    return vd.with_seeds(v, per_seed, a.seed_agreement)


# ----------------------------------------------------------------------------------------- X3
def addition(bcfg: StudyABeyondConfig, data_root=None) -> vd.Verdict:
    """Each new class recognised above 5-way chance and the old four kept, on every seed's frozen model."""
    per = [report._addition_outcome(b, data_root) for b in beyond.probe_seed_configs(bcfg)]
    rows = [report.headline_addition_rows(b, data_root) for b in beyond.probe_seed_configs(bcfg)]
    recall = np.array([[r["new_accuracy"] for r in seed_rows] for seed_rows in rows])  # seeds x classes
    worst = int(np.argmin(recall.mean(axis=0)))
    names = [r["class"] for r in rows[0]]
    pooled = evaluation.all_of([p["outcome"] for p in per])
    v = vd.from_parts(
        ADDITION, [Part("every new class above chance, the old classes kept", pooled)],
        Effect(f"recall of {names[worst].replace('_', ' ')}, the hardest added class (seed mean; seeds "
               f"{recall[:, worst].min():.3f} to {recall[:, worst].max():.3f})", float(recall[:, worst].mean()),
               signed=False),
        rule=report.ADDITION_RULE.format(rule=report.headline_rule(bcfg), chance=per[0]["chance"],
                                         distance=bcfg.study_a.distance),
        details="; ".join(f"{n.replace('_', ' ')} {recall[:, i].mean():.3f}" for i, n in enumerate(names)))
    return vd.with_seeds(v, [p["outcome"] for p in per], bcfg.study_a.seed_agreement)


# ----------------------------------------------------------------------------------------- X4
def ood_rows(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    """Per out-of-distribution task: the Study A model's AUROC over its training seeds (seed mean, an
    interval resampling seeds and images, each seed's value) and its paired difference from the
    softmax CNN (one seed) on the same image draws."""
    seeds = [beyond.outputs_on_every_set(b, "study_a", data_root) for b in beyond.probe_seed_configs(bcfg)]
    softmax = beyond.outputs_on_every_set(bcfg, "cross_entropy", data_root)
    rows = []
    for task, (inside, outside) in report._tasks(bcfg).items():
        y = np.concatenate([np.zeros(len(seeds[0][inside])), np.ones(len(seeds[0][outside]))])
        ours = np.stack([np.concatenate([report.ood_score(bcfg, "study_a", o[inside], o["keys"]),
                                         report.ood_score(bcfg, "study_a", o[outside], o["keys"])]) for o in seeds])
        theirs = np.concatenate([report.ood_score(bcfg, "cross_entropy", softmax[inside], softmax["keys"]),
                                 report.ood_score(bcfg, "cross_entropy", softmax[outside], softmax["keys"])])[None]
        r = bootstrap.seed_image_auroc(y, ours, bcfg.bootstrap_samples, bcfg.bootstrap_seed, reference=theirs)
        each = [bootstrap.seed_image_auroc(y, row[None], bcfg.bootstrap_samples, bcfg.bootstrap_seed, reference=theirs)
                for row in ours]
        rows.append({"task": task, **r, "n_in": int((y == 0).sum()), "n_out": int((y == 1).sum()),
                     "seed_outcomes": [_ood_pass(e) for e in each]})
    return rows


def _ood_pass(r: dict) -> str:
    """A task passes when the AUROC's lower end clears 0.5 and HD-MANN is not shown worse than the softmax CNN."""
    if r["low"] > 0.5 and r["difference_high"] >= 0:
        return HOLDS
    if r["high"] <= 0.5 or r["difference_high"] < 0:
        return FAILS
    return UNDECIDED


def ood(bcfg: StudyABeyondConfig, data_root=None, rows: list[dict] | None = None) -> vd.Verdict:
    """Every near and far task passes (:func:`_ood_pass`), seed-pooled and seed by seed."""
    rows = [r for r in (rows if rows is not None else ood_rows(bcfg, data_root)) if not r["task"].startswith("compressed")]
    parts = [Part(r["task"], _ood_pass(r)) for r in rows]
    near = rows[0]
    per_seed = [evaluation.all_of(r["seed_outcomes"][s] for r in rows) for s in range(near["seeds"])]
    v = vd.from_parts(
        OOD, parts, Effect(f"AUROC, {near['task']} (seed mean)", near["auroc"], near["low"], near["high"], signed=False),
        rule="for each out-of-distribution task (near and far), the AUROC of the distance to the nearest key has a 95 % "
             "interval (seeds and images resampled) whose lower end clears 0.5, and its paired difference from a "
             "softmax CNN's maximum-probability score does not lie below 0; the claim holds when every task passes",
        baseline="a softmax CNN of the same body and budget, scored by one minus its maximum probability",
        details="; ".join(f"{r['task']}: {Effect('', r['auroc'], r['low'], r['high'], signed=False).text()}, seeds "
                          f"{', '.join(f'{x:.3f}' for x in r['per_seed'])}; minus softmax "
                          f"{Effect('', r['difference'], r['difference_low'], r['difference_high']).text()}"
                          for r in rows))
    return vd.with_seeds(v, per_seed, bcfg.study_a.seed_agreement)


def verdicts(profile: str, data_root=None, overrides: dict | None = None) -> list[vd.Verdict]:
    bcfg = study_a_beyond_config(profile, overrides)
    return [generalises(bcfg, data_root), breaks(bcfg, data_root), addition(bcfg, data_root), ood(bcfg, data_root)]


def stage_calls(profile: str, overrides: dict | None = None) -> list:
    """What the verdicts read: the train x test matrix over every seed, and what the other verdicts
    probe on each seed's Study A model (drift, saliency, class addition, out-of-distribution scores
    against the softmax CNN); not the dimension sweep or the colour baseline, which decide none."""
    bcfg = study_a_beyond_config(profile, overrides)
    calls = [beyond.outputs.on(b, *beyond.model_request(b, level))
             for b in beyond.seed_configs(bcfg) for level in beyond.training_levels(b)]
    calls += [c for c in beyond.stage_calls(bcfg) if c.stage.name in (
        "study_a_beyond/outputs_on_every_set", "study_a_beyond/class_addition", "study_a_beyond/saliency")]
    return calls
