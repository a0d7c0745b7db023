"""Study B's claims (Jo et al. 2021, from its abstract), decided on the patch design over the
training seeds, each beside the baseline a skeptic asks for.

Every claim is a :class:`hdmann.methods.verdicts.Verdict` decided on its testable parts
(:func:`hdmann.methods.verdicts.decide`). Levels are placed by the ratio the codec achieved, not
its target: a mini-MIAS film is 1 MiB raw, and JPEG 2000's header floor stops it near 4,000:1, so
the paper's 10,000-11,000:1 band is not reachable here and every part that needs it says so.
Nothing here is a stage: rewording a rule re-keys nothing.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from hdmann.methods import evaluation, verdicts as vd, words
from hdmann.methods.words import count
from hdmann.methods.verdicts import Claim, Effect, FAILS, HOLDS, NOT_TESTABLE, Part, UNDECIDED
from hdmann.studies import papers, study_b
from hdmann.studies.study_b import pipeline as sbp, report as rep, scores
from hdmann.studies.study_b.config import StudyBConfig, study_b_config

CHAPTER = "study_b_patches"
LABEL = "claims-study-b"
P = papers.STUDY_B
LOW_BAND, HIGH_BAND = 5_000, rep.HIGH_RATIO  # "up to 5K" and "10K-11K", by the ratio achieved
FLAT = Claim("B1", "Study B", "Performance does not decline up to 5,000:1 and decreases at 10,000:1 to 11,000:1",
             f"AUROC {P['auroc_upto_5k']:.2f}, AUPRC {P['auprc_upto_5k']:.2f} up to 5,000:1; "
             f"{P['auroc_10k_11k']:.2f}, {P['auprc_10k_11k']:.2f} at 10,000:1 to 11,000:1", CHAPTER,
              short="AUROC flat to 5,000:1, lower beyond 10,000:1")
SALIENCY = Claim("B2", "Study B", "Saliency maps of models trained at up to 5,000:1 cover the radiologist's label; "
                 "at higher compression they miss it", "maps shown, no number", CHAPTER,
                  short="saliency covers the lesion to 5,000:1")
ROBUST = Claim("B3", "Study B", "Training on compressed images makes a model more robust to compressed test images",
               "stated, no number", CHAPTER,
                short="compressed training adds robustness")
RESNET = Claim("B4", "Study B", "ResNet18 does not improve on the 3-conv, 3-FC CNN",
               f"ResNet18 AUROC {P['resnet_auroc_low']:.2f}-{P['resnet_auroc_high']:.2f} "
               f"(CNN {P['auroc_upto_5k']:.2f}) up to 5,000:1", CHAPTER,
                short="ResNet18 no better than the CNN")
RULES = vd.Rules()  # each claim beside the function that decides it; CLAIMS (below) is their order


def _floor_reason(achieved: dict[str, float]) -> str:
    top = max(achieved.values(), default=1.0)
    return f"no level reached {HIGH_BAND:,}:1 (JPEG 2000's floor on a 1 MiB film: {words.ratio(top)})"


def _design(cfg: StudyBConfig) -> tuple[str, str, str]:
    """(experiment, its condition in words, a short tag): the paper's design (b) where this profile
    trains the CNN at compressed levels, else (a)."""
    if len(scores.train_levels(cfg, "cnn")) > 1:
        return "b", "trained and tested at each level, the paper's design", ""
    return "a", ("trained on originals, tested at each level; the paper trains at each level, which this profile "
                 "leaves to the paper profile"), "trained on originals"


def _flat_parts(rows: list[dict], achieved: dict[str, float], margin: float) -> list[Part]:
    low = [r for r in rows if r["level"] != sbp.ORIGINAL and achieved[r["level"]] <= LOW_BAND]
    high = [r for r in rows if achieved[r["level"]] >= rep.REACHED * HIGH_BAND]
    flat = (Part("flat up to 5,000:1", evaluation.all_of(
        evaluation.non_inferiority(r["delta_low"], r["delta_high"], margin) for r in low)) if low
        else Part("flat up to 5,000:1", NOT_TESTABLE, "no compressed level up to 5,000:1 in this profile"))
    drop = (Part("the loss at 10,000:1 to 11,000:1", evaluation.all_of(
        HOLDS if r["delta_high"] < 0 else FAILS if r["delta_low"] > -margin else UNDECIDED for r in high)) if high
        else Part("the loss at 10,000:1 to 11,000:1", NOT_TESTABLE, _floor_reason(achieved)))
    return [flat, drop]


def _worst(rows: list[dict], achieved: dict[str, float]) -> dict | None:
    low = [r for r in rows if r["level"] != sbp.ORIGINAL and achieved[r["level"]] <= LOW_BAND]
    return min(low, key=lambda r: r["delta"], default=None)


def _level_words(level: str, achieved: dict[str, float]) -> str:
    return words.ratio(achieved[level]) if level != sbp.ORIGINAL else "originals"


def flat_verdict(cfg: StudyBConfig, model: str, achieved: dict[str, float], data_root=None,
                 claim: Claim = FLAT) -> vd.Verdict:
    """B1 for ``model``: decided on the seeds pooled and on each seed alone (the seeds every level involved has)."""
    experiment, condition, tag = _design(cfg)
    m = cfg.patches.flat_auroc_margin
    rows = rep.performance(cfg, model, experiment, data_root=data_root)
    worst = _worst(rows, achieved)
    effect = (Effect(f"AUROC change from originals at {_level_words(worst['level'], achieved)}, the largest loss up to "
                     "5,000:1", worst["delta"], worst["delta_low"], worst["delta_high"]) if worst else None)
    v = vd.from_parts(
        claim, _flat_parts(rows, achieved, m), effect, margin=m, condition=condition, tag=tag,
        rule=f"levels placed by the median ratio the codec achieved: at every level up to 5,000:1 no AUROC loss "
             f"beyond {m:g} (the paired 95 % interval of the change from originals, resampling patients, lies above "
             f"−{m:g}), and at every level that reached {rep.REACHED * HIGH_BAND:,.0f}:1 a loss (its interval wholly "
             "below 0); the claim is decided on the parts this run can test",
        details="; ".join(f"{_level_words(r['level'], achieved)}: AUROC {r['pooled_auroc']:.3f}, change "
                          f"{Effect('', r['delta'], r['delta_low'], r['delta_high']).text()}" for r in rows),
        values={"auroc_original": rows[0]["pooled_auroc"], "auprc_original": rows[0]["auprc"]} if rows else {})
    involved = [sbp.ORIGINAL] if experiment == "a" else scores.train_levels(cfg, model)
    n_seeds = min(scores.repeats(cfg, model, lv) for lv in involved)
    per_seed = [vd.decide(_flat_parts(rep.performance(cfg, model, experiment, data_root=data_root, repeat=r),
                                      achieved, m))[0] for r in range(n_seeds)]
    return vd.with_seeds(v, per_seed, cfg.patches.seed_agreement)


def _baseline_words(other: vd.Verdict, label: str) -> str:
    shown = f"; {other.effect.what.split(',')[0]}: {other.effect.text()}" if other.effect else ""
    return f"{label}, by the same rule: {other.outcome}{shown}"


@RULES.decides(FLAT)
def flat(cfg: StudyBConfig, data_root=None) -> vd.Verdict:
    """B1 for the CNN, with the texture features decided by the same rule beside it."""
    achieved = rep.achieved_ratios(cfg, data_root)
    cnn = flat_verdict(cfg, "cnn", achieved, data_root)
    features = flat_verdict(cfg, "features", achieved, data_root)
    return replace(cnn, baseline=_baseline_words(features, "the texture features"))


@RULES.decides(SALIENCY)
def saliency(cfg: StudyBConfig, data_root=None) -> vd.Verdict:
    """B2: Grad-CAM of the CNN trained at each level (first repeat) against the radiologist's circle,
    against the stronger of a uniform and a centre-biased map that never saw the patch."""
    achieved = rep.achieved_ratios(cfg, data_root)
    rows = rep.saliency_table(cfg, data_root)
    low = [r for r in rows if achieved[r["level"]] <= LOW_BAND]
    high = [r for r in rows if achieved[r["level"]] >= rep.REACHED * HIGH_BAND]

    def bar(r) -> float:
        return max(r["uniform_baseline"], r["centre_baseline"])

    covers = (Part("covers the lesion at every trained level up to 5,000:1",
                   evaluation.all_of(HOLDS if r["gradcam_energy_low"] > bar(r) else FAILS if r["gradcam_energy_high"] < bar(r)
                                     else UNDECIDED for r in low)) if low
              else Part("covers the lesion up to 5,000:1", NOT_TESTABLE, "no trained level up to 5,000:1"))
    low_mean = float(np.mean([r["gradcam_energy"] for r in low])) if low else float("nan")
    misses = (Part("the miss at 10,000:1 to 11,000:1", evaluation.all_of(
        HOLDS if r["gradcam_energy_high"] < low_mean or r["gradcam_energy_high"] <= bar(r) else
        FAILS if r["gradcam_energy_low"] > bar(r) else UNDECIDED for r in high)) if high
        else Part("the miss at 10,000:1 to 11,000:1", NOT_TESTABLE,
                  "no CNN trained at 10,000:1 or more" if any(a >= rep.REACHED * HIGH_BAND for a in achieved.values())
                  else _floor_reason(achieved)))
    first = rows[0] if rows else None
    effect = (Effect("Grad-CAM energy inside the circle on originals, first seed", first["gradcam_energy"],
                     first["gradcam_energy_low"], first["gradcam_energy_high"], signed=False) if first else None)
    v = vd.from_parts(
        SALIENCY, [covers, misses], effect,
        rule="the 95 % interval (over patches) of Grad-CAM's energy inside the circle lies above both a uniform map's "
             "share and a centre-biased map's energy at every trained level up to 5,000:1; at 10,000:1 to 11,000:1 it falls "
             "below the low levels' mean or to those baselines",
        baseline=(f"a uniform map scores {first['uniform_baseline']:.2f} and a centre-biased map "
                  f"{first['centre_baseline']:.2f} on originals, without seeing the patch") if first else "",
        details="; ".join(f"{_level_words(r['level'], achieved)}: {r['gradcam_energy']:.2f} "
                          f"({r['gradcam_energy_low']:.2f} to {r['gradcam_energy_high']:.2f})" for r in rows))
    return vd.with_seeds(v, [v.outcome], cfg.patches.seed_agreement)  # the maps are the first seed's


@RULES.decides(ROBUST)
def robustness(cfg: StudyBConfig, data_root=None) -> vd.Verdict:
    """B3: at the most compressed test level, the model trained compressed against the one trained
    on originals, paired on the same patients, for every compressed training level."""
    rows = rep.robustness(cfg, "cnn", data_root=data_root)
    if not rows:
        return vd.from_parts(ROBUST, [Part("more robust at the most compressed test level", NOT_TESTABLE,
                                           "no CNN trained on compressed patches in this profile")],
                             None, "needs a CNN trained at a compressed level")
    top = max((r["test_level"] for r in rows), key=lambda lv: sbp.ratio_of(lv) or 1)
    at_top = [r for r in rows if r["test_level"] == top]
    part = Part(f"more robust at {top}", evaluation.all_of(
        HOLDS if r["delta_low"] > 0 else FAILS if r["delta_high"] < 0 else UNDECIDED for r in at_top))
    best = max(at_top, key=lambda r: r["delta"])
    return vd.from_parts(
        ROBUST, [part], Effect(f"AUROC gain at {top} of training at {best['train_level']}", best["delta"],
                               best["delta_low"], best["delta_high"]),
        rule="at the most compressed test level, the paired 95 % interval of AUROC(trained compressed) minus "
             "AUROC(trained on originals) lies wholly above 0 for every compressed training level (holds), wholly "
             "below 0 for any (does not hold), else undecided",
        details="; ".join(f"trained at {r['train_level']}: {Effect('', r['delta'], r['delta_low'], r['delta_high']).text()}"
                          for r in at_top))


@RULES.decides(RESNET)
def resnet(cfg: StudyBConfig, data_root=None) -> vd.Verdict:
    """B4: ResNet18 (from scratch: no ImageNet weights here) minus the CNN on originals, paired on the
    same patients: no improvement beyond the margin holds, an improvement beyond it does not."""
    m = cfg.patches.flat_auroc_margin
    if sbp.ORIGINAL not in scores.train_levels(cfg, "resnet18"):
        return vd.from_parts(RESNET, [Part("no improvement over the CNN", NOT_TESTABLE,
                                           "this profile trains no ResNet18")], None, "needs a ResNet18 run", margin=m)
    h = rep.head_to_head(cfg, "resnet18", "cnn", sbp.ORIGINAL, data_root=data_root)
    outcome = HOLDS if h["delta_high"] < m else FAILS if h["delta_low"] > m else UNDECIDED
    n = scores.repeats(cfg, "resnet18", sbp.ORIGINAL)
    v = vd.from_parts(
        RESNET, [Part("no improvement over the CNN on originals", outcome)],
        Effect("AUROC of ResNet18 minus the CNN on originals", h["delta"], h["delta_low"], h["delta_high"]), margin=m,
        seeds=n,
        condition=f"ResNet18 from scratch, {count(cfg.patches.resnet_epochs, 'epoch')}; the paper's was pre-trained on ImageNet",
        tag="from scratch",
        rule=f"the paired 95 % interval of ResNet18's AUROC minus the CNN's lies below +{m:g} (no improvement beyond "
             f"the margin: holds), wholly above +{m:g} (does not hold), else undecided",
        details=f"ResNet18 {h['auroc']:.3f}, CNN {h['other_auroc']:.3f}")
    return vd.with_seeds(v, [v.outcome], cfg.patches.seed_agreement) if n == 1 else v  # more seeds: pooled over them


def verdicts(profile: str, data_root=None, overrides: dict | None = None) -> list[vd.Verdict]:
    """Study B's claims on the patch design, in the order of :data:`CLAIMS`."""
    return RULES.decide(study_b_config(profile, overrides), data_root)


CLAIMS = RULES.claims


def stage_calls(profile: str, overrides: dict | None = None) -> list:
    return study_b.patch_stages(profile, overrides)


def deviations(profile: str, data_root=None, overrides: dict | None = None) -> list[dict]:
    """How this run differs from Study B, each with what it changes where the run can measure it."""
    cfg = study_b_config(profile, overrides)
    counts = rep.counts(cfg, data_root)
    achieved = rep.achieved_ratios(cfg, data_root)
    top = max(achieved.values())
    experiment, _, _ = _design(cfg)
    cnn = rep.performance(cfg, "cnn", "a", data_root=data_root)[0]
    rows = [
        {"study": "Study B", "what": "data", "paper": f"{P['mammograms']:,} digital mammograms, one hospital, private",
         "this run": f"mini-MIAS: {count(counts['films'], 'film')} of {count(counts['patients'], 'patient')}, "
                     f"{counts['malignant']} malignant lesion patches",
         "consequence": f"the CNN's 95 % interval on originals spans {cnn['auroc_high'] - cnn['auroc_low']:.2f} in AUROC "
                        f"({cnn['auroc_low']:.2f} to {cnn['auroc_high']:.2f})"},
        {"study": "Study B", "what": "unit", "paper": "whole mammograms",
         "this run": f"{cfg.patches.size} px patches cut from films compressed whole",
         "consequence": "whole films at a CPU's input size are the negative-control chapter's"},
        {"study": "Study B", "what": "compression ratios", "paper": "15 to 11,000:1",
         "this run": f"targets {', '.join(map(words.ratio, cfg.patches.levels))}; the highest achieved {words.ratio(top)}",
         "consequence": "a 1 MiB 8-bit film hits JPEG 2000's header floor: the parts of B1 and B2 at 10,000:1 to 11,000:1 are not testable"},
        {"study": "Study B", "what": "design", "paper": "trained and tested at each ratio",
         "this run": "the same" if experiment == "b" else "trained on originals, tested at each ratio",
         "consequence": "B1 is decided on this design; B3 needs compressed training" if experiment == "a"
         else "B1 and B3 are decided on the paper's design"},
        {"study": "Study B", "what": "ResNet18", "paper": "pre-trained on ImageNet",
         "this run": (f"from scratch, {count(cfg.patches.resnet_epochs, 'epoch')}, {count(cfg.patches.resnet_repeats, 'seed')}"
                      if cfg.patches.resnet_repeats else "not trained in this profile"),
         "consequence": "B4 compares architectures, not pre-training"},
        {"study": "Study B", "what": "repeats", "paper": f"{cfg.n_folds}-fold cross-validation, one run",
         "this run": f"{cfg.n_folds} folds, {count(cfg.patches.repeats, 'seed')} of the CNN on originals",
         "consequence": "every verdict says in how many seeds it holds"},
    ]
    return rows
