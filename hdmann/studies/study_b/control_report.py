"""Study B's whole-film negative control, as the reader sees it: tables, one figure, the verdict.

Nothing here trains or caches; it formats what :mod:`hdmann.studies.study_b.control` computed, so rewording a
sentence never retrains a model.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hdmann.methods import plotting
from hdmann.methods.words import count, listing, ratio as ratio_words
from hdmann.studies import papers as paper

CHANCE = 0.5


def run_label(summary: dict) -> str:
    what = {"real labels": "real labels", "permuted labels": "permuted labels",
            "sides aligned": "real labels, right films mirrored"}[summary["kind"]]
    seed = "label seed" if summary["kind"] == "permuted labels" else "training seed"
    return f"CNN, {what} ({seed} {summary['seed']})"


def _mean_sd(mean: float, sd: float) -> str:
    """"0.309 ± 0.361"; an undefined part (a fold with one class has no AUROC) as a dash, never nan."""
    def shown(v: float) -> str:
        return f"{v:.3f}" if np.isfinite(v) else "—"
    return f"{shown(mean)} ± {shown(sd)}"


def runs_table(summaries: list[dict]) -> pd.DataFrame:
    """One row per CNN run: its AUROC three ways, and the signs of a model that did not learn."""
    return pd.DataFrame([{
        "Run": run_label(s),
        "AUROC, mean ± SD over folds": _mean_sd(s["auroc"], s["auroc_sd"]),
        "95 % interval (patients)": f"{s['auroc_low']:.3f} to {s['auroc_high']:.3f}",
        "AUROC, folds pooled": f"{s['pooled_auroc']:.3f}",
        "distinct scores / films (smallest fold)": f"{s['distinct_scores_min']} / {s['test_films_min']}",
        "score range (median fold)": f"{s['score_spread']:.3f}",
        "AUROC, brightness regressed out": f"{s['auroc_brightness_adjusted']:.3f}",
        "best epoch per fold": ", ".join(str(e) for e in s["best_epochs"]),
        "side told apart (AUROC)": f"{s['side_separation']:.2f}",
    } for s in summaries])


RUN_COLUMNS = {c: c for c in ("Run", "AUROC, mean ± SD over folds", "95 % interval (patients)", "AUROC, folds pooled",
                                "best epoch per fold", "side told apart (AUROC)")}  # shown; the CSV keeps every column


def baselines_table(feature_rows: list[dict], pixel_rows: list[dict], untrained: np.ndarray) -> pd.DataFrame:
    rows = [{"Baseline": f"{r['feature']} alone (sign learned on the training folds)",
             "AUROC (mean over folds)": r["auroc"], "95 % interval (patients)": f"{r['auroc_low']:.3f} to {r['auroc_high']:.3f}"}
            for r in feature_rows]
    rows += [{"Baseline": f"logistic regression on the film's pixels at {r['size']} px",
              "AUROC (mean over folds)": r["auroc"], "95 % interval (patients)": f"{r['auroc_low']:.3f} to {r['auroc_high']:.3f}"}
             for r in pixel_rows]
    low, high = np.percentile(untrained, [2.5, 97.5])
    rows.append({"Baseline": f"untrained CNN ({len(untrained)} random initialisations)",
                 "AUROC (mean over folds)": float(np.mean(untrained)),
                 "95 % interval (patients)": f"central 95 % of initialisations: {low:.3f} to {high:.3f}"})
    return pd.DataFrame(rows)


def figure(summaries: list[dict], feature_rows: list[dict], pixel_rows: list[dict], untrained: np.ndarray) -> plt.Figure:
    """Every model and shortcut on one AUROC axis, with intervals, over the untrained networks' range."""
    items = [(run_label(s), s["auroc"], s["auroc_low"], s["auroc_high"], "C0") for s in summaries]
    items += [(f"{r['feature']} alone", r["auroc"], r["auroc_low"], r["auroc_high"], "C1") for r in feature_rows]
    items += [(f"pixels at {r['size']} px, logistic regression", r["auroc"], r["auroc_low"], r["auroc_high"], "C2")
              for r in pixel_rows]
    fig, ax = plt.subplots(figsize=(plotting.MAX_WIDTH, 0.3 * len(items) + 1.5))
    low, high = np.percentile(untrained, [2.5, 97.5])
    ax.axvspan(low, high, color="grey", alpha=0.15, label="untrained CNNs (central 95 %)")
    ax.axvline(CHANCE, color="grey", ls="--", lw=1)
    for i, (name, m, lo, hi, colour) in enumerate(items):
        ax.errorbar(m, i, xerr=[[m - lo], [hi - m]], fmt="o", color=colour, ms=4, capsize=2)
    ax.set_yticks(range(len(items)), [it[0] for it in items])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("AUROC, malignant vs not\n(mean over folds; bars: 95 % interval over patients)")
    plotting.legend(ax, loc="lower right", bbox_to_anchor=(1, 1.0))  # above the axes, never on a point
    fig.tight_layout()
    return fig


def null_verdict(real: dict, permuted: list[dict], untrained: np.ndarray) -> dict:
    """Did the CNN on real labels learn anything? Judged against the same CNN trained on permuted
    labels (same films, same folds), the only comparison that includes the spread of retraining."""
    low, high = np.percentile(untrained, [2.5, 97.5])
    perm_aurocs = [p["auroc"] for p in permuted]
    learned = bool(perm_aurocs) and real["auroc_low"] > max(perm_aurocs)
    perm_below = [p for p in permuted if p["auroc_high"] < CHANCE]
    if real["auroc_high"] >= CHANCE:
        below = "The real-label run's interval reaches chance, so its AUROC is not below chance by this measure."
    elif perm_below:
        below = (f"Its interval lies below chance, but so does that of a CNN trained on permuted labels "
                 f"({perm_below[0]['auroc']:.3f}, interval {perm_below[0]['auroc_low']:.3f} to "
                 f"{perm_below[0]['auroc_high']:.3f}). An interval over patients holds the trained fold models fixed "
                 "and leaves out what retraining changes. So it is no evidence of a cue that reverses.")
    else:
        below = ("Its interval lies below chance while no permuted-label run's does. A cue that reverses between "
                 "training and held-out folds is not ruled out by this run.")
    return {"verdict": "some signal learned" if learned else "no signal learned",
            "below_chance": below, "permuted_min": min(perm_aurocs) if perm_aurocs else float("nan"),
            "permuted_max": max(perm_aurocs) if perm_aurocs else float("nan"),
            "untrained_low": float(low), "untrained_high": float(high),
            "untrained_mean": float(np.mean(untrained)), "untrained_sd": float(np.std(untrained, ddof=1)),
            "rule": "signal counts as learned only if the real-label run's 95 % interval lies wholly above the "
                    "AUROC of every permuted-label run"}


def paper_table(real: dict) -> pd.DataFrame:
    """The paper's CNN (trained and tested at the same ratio) beside this control on originals."""
    b = paper.STUDY_B
    return pd.DataFrame([
        {"Model": f"Jo et al. CNN, {ratio_words(PAPER_RATIOS[0])} to {ratio_words(PAPER_LOW_BAND)}", "AUROC": f"{b['auroc_upto_5k']:.2f}", "AUPRC": f"{b['auprc_upto_5k']:.2f}"},
        {"Model": f"Jo et al. CNN, {paper_bands()['high']}", "AUROC": f"{b['auroc_10k_11k']:.2f}", "AUPRC": f"{b['auprc_10k_11k']:.2f}"},
        {"Model": "Jo et al. ResNet18 (ImageNet weights), range over the ratios", "AUROC": f"{b['resnet_auroc_low']:.2f} to {b['resnet_auroc_high']:.2f}",
         "AUPRC": f"{b['resnet_auprc_low']:.2f} to {b['resnet_auprc_high']:.2f}"},
        {"Model": "this control: CNN on uncompressed whole films", "AUROC": f"{real['auroc']:.3f}",
         "AUPRC": f"{real['auprc']:.3f} (prevalence {real['prevalence']:.3f})"},
    ])


# the mini-MIAS data README's own pixel baseline (logistic regression on the films' pixels, its own folds):
# a cross-check the chapter cites, as published beside the data
DATA_README_PIXEL_AUROC = (0.48, 0.50)


def pixel_words(pixel_rows: list[dict]) -> str:
    """The pixel baseline at each size in words: "0.52 at 16 px, 0.49 at 32 px and 0.50 at 64 px"."""
    return listing(f"{r['auroc']:.2f} at {r['size']} px" for r in pixel_rows)


def below_chance_words(real: dict) -> str:
    """Whether the real-label run's interval stops short of chance, as the section's opening sentence."""
    if real["auroc_high"] < CHANCE:
        return ("Its interval stops short of chance, which looks further below chance than chance allows. We tested "
                "the explanations one by one.")
    if real["auroc_low"] > CHANCE:
        return "Its interval lies above chance. We still tested the explanations of a low score one by one."
    return ("Its interval includes chance, so it is not below chance by this measure. We still tested the "
            "explanations one by one.")


PAPER_LOW_BAND, PAPER_HIGH_BAND = 5_000, (10_000, 11_000)  # Jo et al.'s abstract: "up to 5K", "10K-11K"
PAPER_RATIOS = (15, 11_000)  # the ratios Jo et al. compressed at, lowest and highest


def paper_bands() -> dict:
    """The paper's ratio bands as the book writes ratios."""
    return {"low": f"up to {ratio_words(PAPER_LOW_BAND)}",
            "high": f"{ratio_words(PAPER_HIGH_BAND[0])} to {ratio_words(PAPER_HIGH_BAND[1])}"}


def early_words(real: dict, early: int = 2) -> str:
    """When early stopping kept its epochs, in words: "epoch 1, 1, 2, 1 and 3 in the 5 folds, 4 of them
    at epoch 2 or earlier"."""
    epochs = real["best_epochs"]
    soon = sum(e <= early for e in epochs)
    return (f"epoch {listing(str(e) for e in epochs)} in the {count(len(epochs), 'fold')}, {soon} of them at epoch "
            f"{early} or earlier")


def inner_malignant_words(cfg, malignant: int) -> str:
    """About how many malignant films an inner validation split holds: "8 malignant films"."""
    n = round(malignant * (1 - 1 / cfg.n_folds) * cfg.films.inner_validation_fraction)
    return count(n, "malignant film")


def aligned_words(aligned: list[dict]) -> str:
    """The mirrored run (every right film flipped, so all breasts face the same way) in a sentence."""
    if not aligned:
        return "This profile runs no version with the right films mirrored."
    sep = ", ".join(f"{s['side_separation']:.2f}" for s in aligned)
    aucs = ", ".join(f"{s['auroc']:.3f}" for s in aligned)
    return (f"With every right film mirrored, so that all breasts face the same way, the scores tell the side with an "
            f"AUROC of {sep}, and the CNN scores {aucs}.")


def share_words(share: float) -> str:
    """A share as the book writes a percentage: "20 %"."""
    return f"{share * 100:.0f} %"


def runs_words(plan: dict) -> str:
    """What the control ran in this profile, as the choices table's last row."""
    return (f"{plan['seeds']} training seed(s), {plan['permutations']} label permutation(s), "
            f"{'with' if plan['aligned'] else 'no'} mirrored run, {plan['untrained']} untrained networks")


def aurocs_words(summaries: list[dict], key: str = "auroc", digits: int = 3) -> str:
    """Runs' values in a list ("0.512, 0.498"), or that this profile runs none."""
    return ", ".join(f"{s[key]:.{digits}f}" for s in summaries) or "not run in this profile"
