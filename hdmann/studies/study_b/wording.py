"""Study B on patches in words: names and intervals as the reader sees them, the design as
sentences, and the chapter's computed sentences, each with the rule that picks its wording.

Functions here take numbers the report computed and return text; none reads a stage.
"""
from __future__ import annotations

import numpy as np

from hdmann.methods.words import count, listing, ratio as ratio_words
from hdmann.studies.study_b import pipeline as sbp
from hdmann.studies.study_b.scores import ENSEMBLE
from hdmann.studies.study_b.config import PATCH_CNN_VARIANTS, StudyBConfig


MODEL_LABELS = {"cnn": "CNN (3 conv, 3 FC)", "resnet18": "ResNet18 (from scratch)",
                "features": "texture features + logistic regression", "shortcut": "brightness shortcut (patch mean)",
                ENSEMBLE: "CNN, seed ensemble"}
VARIANT_LABELS = {
    "flatten": "flattened maps",
    "gap": "pooled maps",
    "flatten_wd": "flattened maps + weight decay",
    "gap_wd": "pooled maps + weight decay",
    "bn_wd": "BatchNorm + weight decay",
    "bn_wd_slow": "BatchNorm + weight decay + slow rate",
    "bn_wd_cos": "BatchNorm + weight decay + cosine rate",
}
TASK_LABELS = {"malignant": "malignant vs not", "abnormal": "abnormal vs normal",
               "malignant_vs_benign": "malignant vs benign"}
NO_FOLD_AUROC = "not measured (a fold with one class has no AUROC)"
WELL_ABOVE_CHANCE = 0.6  # an interval whose lower end clears this is "well above chance"
UNDERFIT_AUROC = 0.9  # a model ranking its own training patches below this has not fit them


def variant_label(name: str | None) -> str:
    """A CNN variant of :data:`hdmann.studies.study_b.config.PATCH_CNN_VARIANTS` in words."""
    return "none of the tried variants" if name is None else VARIANT_LABELS.get(name, name)


def model_label(model: str) -> str:
    return MODEL_LABELS.get(model, model)


def level_words(level: str) -> str:
    """A level by its target ratio, as the book writes ratios: "1,000:1", or "originals"."""
    ratio = sbp.ratio_of(level)
    return "originals" if ratio is None else ratio_words(ratio)


def _finite(*values) -> bool:
    return all(v is not None and np.isfinite(v) for v in values)


def interval_words(low: float, high: float, digits: int = 3) -> str:
    """"0.612 to 0.781", or "—" where the interval is not defined."""
    return f"{low:.{digits}f} to {high:.{digits}f}" if _finite(low, high) else "—"


def value_interval(value: float, low: float, high: float, digits: int = 3) -> str:
    """"0.701 (0.612 to 0.781)", or "—"."""
    return f"{value:.{digits}f} ({interval_words(low, high, digits)})" if _finite(value) else "—"


def mean_sd_words(mean: float, sd: float, digits: int = 3) -> str:
    """A mean over folds with its SD, or why there is none (a fold holding one class has no AUROC,
    and the mean over folds is then undefined, never averaged away)."""
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if _finite(mean, sd) else NO_FOLD_AUROC


def levels_words(ratios, every=None) -> str:
    """Compression levels in a sentence: a few are listed ("1,000:1 and 11,000:1"), many are a range
    ("12 levels from 15:1 to 11,000:1", the compression table lists them); "every compressed level"
    where ``ratios`` are all of ``every``."""
    ratios = sorted(ratios)
    if every is not None and ratios == sorted(every):
        return "every compressed level"
    if len(ratios) <= 3:
        return listing(ratio_words(r) for r in ratios)
    return f"{len(ratios)} levels from {ratio_words(ratios[0])} to {ratio_words(ratios[-1])}"


def variants_words(names, sep: str = " and ") -> str:
    """Variants in words: "BatchNorm + weight decay and BatchNorm + weight decay + cosine rate"; a name
    followed by a note (nested selection's "bn_wd (kept: ...)") keeps its note."""
    def words(name: str) -> str:
        head, _, note = name.partition(" ")
        return f"{variant_label(head)} {note}".strip() if head in VARIANT_LABELS else name

    shown = [words(n) for n in names]
    return listing(shown) if sep == " and " else sep.join(shown)


def plan_words(cfg: StudyBConfig, counts: dict) -> dict:
    """The design in words, from the profile and the patch counts (:func:`counts`): which levels train
    which model, the CNN's head, its learning-rate schedule and normalisation, the network's input, and
    about how many malignant patches an inner validation split would hold."""
    inner = round(counts["malignant"] * (1 - 1 / cfg.n_folds) / cfg.n_folds)
    levels = levels_words(cfg.patches.train_levels, cfg.patches.levels)
    resnet_levels = levels_words(cfg.patches.resnet_levels, cfg.patches.levels)
    if cfg.patches.train_levels:
        train = (f"The CNN also trains at {levels}, with {count(cfg.patches.level_repeats, 'seed')} each "
                 "(experiments (b) and (c)).")
    else:
        train = ("This profile trains no CNN on compressed films. Experiments (b) and (c) need one per level; "
                 "the paper profile trains them.")
    if cfg.patches.resnet_repeats:
        resnet = ("ResNet18 trains on originals" + (f" and at {resnet_levels}" if cfg.patches.resnet_levels else "")
                  + f", with {count(cfg.patches.resnet_repeats, 'seed')} of its cross-validation.")
    else:
        resnet = "ResNet18 is left to the paper profile: on a CPU it costs several times the CNN per epoch."
    return {
        "train_plan": train, "resnet_plan": resnet,
        "cnn_head": ("global average pooling before the dense layers" if cfg.patches.head == "gap"
                     else "the flattened feature maps"),
        "lr_schedule": ("decayed to zero along a cosine over the budget" if cfg.patches.lr_schedule == "cosine"
                        else "held constant"),
        "cnn_batchnorm": ("with BatchNormalization between each convolution and its ReLU" if cfg.patches.batchnorm
                          else "without normalisation layers"),
        "standardise": ("z-scored: each patch's mean and SD are removed, so the network sees no brightness"
                        if cfg.patches.standardise else "raw 8-bit grey levels"),
        "test_levels": levels_words(cfg.patches.levels),
        "max_normal_films": "all" if cfg.patches.max_normal_films is None else f"{cfg.patches.max_normal_films:,}",
        "weight_decay_words": (f"decoupled weight decay of {cfg.patches.weight_decay:g}" if cfg.patches.weight_decay
                               else "no weight decay"),
        "seeds_words": count(cfg.patches.repeats, "training seed"),
        "epochs_words": count(cfg.patches.epochs, "epoch"),
        "resnet_epochs_words": count(cfg.patches.resnet_epochs, "epoch"),
        "inner_malignant_words": count(inner, "malignant patch", "malignant patches"),
        "left_out_words": (f"{count(counts['left_out_count'], 'lesion')}: {counts['no_coordinates']:,} without "
                           f"coordinates, and {counts['off_breast']:,} whose circle lies on the background"),
    }


def selection_plan_words(cfg: StudyBConfig) -> str:
    """Which CNN variants this profile compares, as a sentence."""
    if set(cfg.patches.select_variants) >= set(PATCH_CNN_VARIANTS):
        return f"This profile runs all {len(PATCH_CNN_VARIANTS)} variants."
    return f"This profile runs {variants_words(cfg.patches.select_variants)}; the paper profile runs all of them."


def knee_sentence(knee_words: str) -> str:
    """Where the CNN's curve bends, pooled over the seeds, as a sentence (``knee_words``: :func:`knee_label`)."""
    if knee_words == "none":
        return ("Trained on originals and tested at each level, the CNN has no knee pooled over the seeds: no level "
                "loses more than the margin.")
    return f"Trained on originals and tested at each level, the CNN's knee lies at {knee_words}, pooled over the seeds."


def knee_label(level: str | None) -> str:
    return "none" if level is None else level_words(level)


def versus_wording(d: float, low: float, high: float, other: str = "the feature baseline") -> str:
    """A model against ``other``: ahead or behind only when the paired 95 % interval of the AUROC
    difference ``d`` excludes 0, else level."""
    if high < 0:
        return f"trails {other} by {-d:.3f} in AUROC (paired 95 % interval {low:+.3f} to {high:+.3f}, wholly below 0)"
    if low > 0:
        return f"beats {other} by {d:.3f} in AUROC (paired 95 % interval {low:+.3f} to {high:+.3f}, wholly above 0)"
    return (f"is level with {other}: the difference is {d:+.3f} in AUROC and its paired 95 % interval "
            f"({low:+.3f} to {high:+.3f}) includes 0")


def cnn_wording(cnn: dict, versus: dict, fit: dict) -> dict:
    """The chapter's computed sentences about the CNN on originals: against chance (``cnn`` is its
    :func:`performance` row), head to head with the feature baseline (``versus`` from
    :func:`head_to_head`), and why, read off how well it fits its own training patches (``fit`` from
    :func:`training_fit`). Each carries its rule."""
    if cnn["auroc_low"] > WELL_ABOVE_CHANCE:
        chance = f"lies well above chance (its lower end clears {WELL_ABOVE_CHANCE})"
    elif cnn["auroc_low"] > 0.5:
        chance = f"lies above chance, but not well above it (its lower end is below {WELL_ABOVE_CHANCE})"
    else:
        chance = "reaches down to chance (0.5)"
    order = versus_wording(versus["delta"], versus["delta_low"], versus["delta_high"])
    seen = (f"On its own training patches, seen as a test patch is (no augmentation, no dropout), its fold models reach "
            f"an AUROC of {fit['train_auroc']:.3f}. Its class-weighted training loss ends at {fit['final_loss']:.3f}; "
            "a constant output scores ln 2 = 0.693.")
    if fit["train_auroc"] < UNDERFIT_AUROC:
        why = (seen + " So within this budget it underfits the augmented task. What it learns of the lesions, it "
               "learns from few malignant examples.")
    else:
        why = (seen + " So it fits its training patches. What it misses on held-out patients is generalisation from "
               "few malignant lesions, not optimisation.")
    return {"chance": chance, "versus": order, "why": why,
            "rule": f"Well above chance means the interval's lower end exceeds {WELL_ABOVE_CHANCE}. Ahead of or behind "
                    f"the baseline needs a paired interval that excludes 0. Underfit means the fold models rank their own "
                    f"training patches with an AUROC below {UNDERFIT_AUROC}."}


def ensemble_wording(ens: dict) -> str:
    """Sentences on the seed ensemble of :func:`ensemble`, with the rule of :func:`cnn_wording` for
    the comparison; with one repeat there is none to report."""
    if ens.get("members", 0) < 2:
        return ("An ensemble over seeds needs more than one seed of the cross-validation. This profile trains one, "
                "so it reports none.")
    text = (f"Averaging each patch's held-out scores over the {ens['members']} seeds gives an ensemble that never saw "
            f"the patch it scores. It reaches {ens['auroc']:.3f} ({ens['auroc_low']:.3f} to {ens['auroc_high']:.3f}).")
    v = ens.get("versus_features")
    if not v:
        return text
    d, low, high = v["delta"], v["delta_low"], v["delta_high"]
    where = ("ahead of" if low > 0 else "behind" if high < 0 else "level with")
    return text + (f" That is {where} the feature baseline: {d:+.3f} in AUROC (paired 95 % interval {low:+.3f} to "
                   f"{high:+.3f}).")


def resnet_wording(row: dict | None, epochs: int) -> str:
    """ResNet18 on originals in words, or that this profile does not train it."""
    if row is None:
        return "not run in this profile"
    return f"{value_interval(row['pooled_auroc'], row['auroc_low'], row['auroc_high'])} after {count(epochs, 'epoch')}"


def shortcut_wording(row: dict) -> str:
    """What the brightness shortcut's interval says of the matching: chance inside it, or a cue left."""
    if row["auroc_low"] > 0.5:
        return "its interval lies above chance, so brightness still tells the kinds of patch apart after the matching"
    if row["auroc_high"] < 0.5:
        return "its interval lies below chance, so the matching overshoots: negatives are brighter than lesions"
    return "its interval includes chance, so the matching leaves brightness little to say"


def secondary_wording(rows: list[dict]) -> str:
    """Which secondary task is harder for the texture features, from their intervals: apart, or not shown."""
    by = {r["task"]: r for r in rows if r["model"] == "features"}
    lesion, grade = by["abnormal"], by["malignant_vs_benign"]
    if grade["high"] < lesion["low"]:
        return ("Telling malignant from benign lesions is harder on this data than telling lesions from normal "
                "tissue: their intervals do not overlap.")
    if grade["low"] > lesion["high"]:
        return ("Telling malignant from benign lesions is easier on this data than telling lesions from normal "
                "tissue: their intervals do not overlap.")
    return "The two intervals overlap, so this data does not show which task is harder."


def contralateral_wording(rows: list[dict]) -> str:
    """Whether mirrored negatives open a brightness cue: the shortcut's contralateral interval against its
    matched value."""
    by = {(r["scheme"], r["model"]): r for r in rows}
    contra, matched = by[("contralateral", "shortcut")], by[("matched", "shortcut")]
    if contra["auroc_low"] > matched["pooled_auroc"]:
        return ("The shortcut rises above its matched value: the mirrored position hands the models a brightness "
                "cue that the matching removes. That is why the matched scheme carries the headline.")
    if contra["auroc_high"] < matched["pooled_auroc"]:
        return "The shortcut falls below its matched value, so the mirrored position opens no brightness cue here."
    return ("The shortcut's interval includes its matched value, so this run shows no brightness cue opened by the "
            "mirrored position.")


def health_words(summary: dict) -> str:
    """The fold models' health as sentences, from :func:`health_summary`'s counts."""
    text = f"Of the {count(summary['folds'], 'fold model')} of this run, {summary['first_try']:,} learned at the first try."
    if summary["retrained"]:
        text += (f" {count(summary['retrained'], 'fold model')} {'was' if summary['retrained'] == 1 else 'were'} "
                 f"retrained from the next seed, and {summary['recovered']:,} of them then learned.")
    else:
        text += " No fold model was retrained."
    if summary["unhealthy"]:
        one = summary["unhealthy"] == 1
        text += (f" {count(summary['unhealthy'], 'fold model')} never learned. The table names "
                 f"{'it' if one else 'them'}; {'it counts' if one else 'they count'} in every number above.")
    else:
        text += " Every fold model learned."
    return text


def agreement(agrees: bool) -> str:
    """Whether the inner-split rule picks the configured CNN, as the prose's verb."""
    return "agrees" if agrees else "does not agree"
