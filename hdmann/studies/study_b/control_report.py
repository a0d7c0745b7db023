"""Study B's whole-film negative control, as the reader sees it: tables, one figure, the verdict.

Nothing here trains or caches; it formats what :mod:`hdmann.studies.study_b.control` computed, so rewording a
sentence never retrains a model.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hdmann.methods import plotting
from hdmann.studies import papers as paper

CHANCE = 0.5


def run_label(summary: dict) -> str:
    what = {"real labels": "real labels", "permuted labels": "permuted labels",
            "sides aligned": "real labels, right films mirrored"}[summary["kind"]]
    seed = "label seed" if summary["kind"] == "permuted labels" else "training seed"
    return f"CNN, {what} ({seed} {summary['seed']})"


def runs_table(summaries: list[dict]) -> pd.DataFrame:
    """One row per CNN run: its AUROC three ways, and the signs of a model that did not learn."""
    return pd.DataFrame([{
        "run": run_label(s),
        "AUROC, mean ± SD over folds": f"{s['auroc']:.3f} ± {s['auroc_sd']:.3f}",
        "95 % interval (patients)": f"[{s['auroc_low']:.3f}, {s['auroc_high']:.3f}]",
        "AUROC, folds pooled": f"{s['pooled_auroc']:.3f}",
        "distinct scores / films (smallest fold)": f"{s['distinct_scores_min']} / {s['test_films_min']}",
        "score range (median fold)": f"{s['score_spread']:.3f}",
        "AUROC, brightness regressed out": f"{s['auroc_brightness_adjusted']:.3f}",
        "best epoch per fold": ", ".join(str(e) for e in s["best_epochs"]),
        "side told apart (AUROC)": f"{s['side_separation']:.2f}",
    } for s in summaries])


def baselines_table(feature_rows: list[dict], pixel_rows: list[dict], untrained: np.ndarray) -> pd.DataFrame:
    rows = [{"baseline": f"{r['feature']} alone (sign learned on the training folds)",
             "AUROC (mean over folds)": r["auroc"], "95 % interval (patients)": f"[{r['auroc_low']:.3f}, {r['auroc_high']:.3f}]"}
            for r in feature_rows]
    rows += [{"baseline": f"logistic regression on the film's pixels at {r['size']} px",
              "AUROC (mean over folds)": r["auroc"], "95 % interval (patients)": f"[{r['auroc_low']:.3f}, {r['auroc_high']:.3f}]"}
             for r in pixel_rows]
    low, high = np.percentile(untrained, [2.5, 97.5])
    rows.append({"baseline": f"untrained CNN ({len(untrained)} random initialisations)",
                 "AUROC (mean over folds)": float(np.mean(untrained)),
                 "95 % interval (patients)": f"central 95 % of initialisations [{low:.3f}, {high:.3f}]"})
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
        below = "The real-label run's interval reaches 0.5, so its AUROC is not below chance by this measure."
    elif perm_below:
        below = (f"Its interval lies below 0.5, but so does that of a CNN trained on permuted labels "
                 f"({perm_below[0]['auroc']:.3f}, interval {perm_below[0]['auroc_low']:.3f} to "
                 f"{perm_below[0]['auroc_high']:.3f}): an interval over patients holds the five trained models "
                 "fixed and leaves out what retraining changes, so it is no evidence of a cue that reverses.")
    else:
        below = ("Its interval lies below 0.5 while no permuted-label run's does: a cue that reverses between "
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
        {"model": "Jo et al. CNN, CR 15 to 5K", "AUROC": f"{b['auroc_upto_5k']:.2f}", "AUPRC": f"{b['auprc_upto_5k']:.2f}"},
        {"model": "Jo et al. CNN, CR 10K to 11K", "AUROC": f"{b['auroc_10k_11k']:.2f}", "AUPRC": f"{b['auprc_10k_11k']:.2f}"},
        {"model": "Jo et al. ResNet18 (ImageNet weights), range over CR", "AUROC": f"{b['resnet_auroc_low']:.2f} to {b['resnet_auroc_high']:.2f}",
         "AUPRC": f"{b['resnet_auprc_low']:.2f} to {b['resnet_auprc_high']:.2f}"},
        {"model": "this control: CNN on uncompressed whole films", "AUROC": f"{real['auroc']:.3f}",
         "AUPRC": f"{real['auprc']:.3f} (prevalence {real['prevalence']:.3f})"},
    ])
