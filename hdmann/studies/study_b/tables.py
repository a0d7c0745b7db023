"""Study B on patches, the tables as shown: the report's rows with names and intervals in words,
and the style that wraps a table inside the page's text column. The CSV beside each table keeps
the rows as computed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from hdmann.studies.study_b import pipeline as sbp
from hdmann.studies.study_b.wording import (TASK_LABELS, VARIANT_LABELS, _finite, interval_words, level_words,
                                            mean_sd_words, model_label, ratio_words, value_interval, variant_label)


WRAP = [{"selector": "th", "props": [("white-space", "normal"), ("text-align", "left"), ("vertical-align", "bottom")]},
        {"selector": "td", "props": [("white-space", "normal"), ("text-align", "left"), ("vertical-align", "top")]}]


def table_view(data, columns: dict | None = None, precision: int = 3):
    """A table as the page shows it, for :func:`hdmann.book.report.table`: ``columns`` (``{column:
    header}``) picks and names the columns, and cells wrap inside the text column, so a table fits a
    1,280 px window instead of scrolling (the styles are scoped to this table). Publish the full frame
    with ``csv=``."""
    if isinstance(data, Styler):
        styler = data
    else:
        shown = data if columns is None else data[list(columns)].rename(columns=columns)
        styler = shown.style.format(precision=precision, thousands=",", na_rep="—").hide(axis="index")
    return styler.set_table_styles(WRAP, overwrite=False)


CHOICE_COLUMNS = {"setting": "Setting", "value": "This run", "why": "Why we chose it"}


def choices_view(choices):
    """:func:`hdmann.book.report.choices` as shown: headers in words, true/false settings as yes/no."""
    shown = choices.assign(value=choices["value"].replace({"True": "yes", "False": "no"}))
    return table_view(shown, CHOICE_COLUMNS)


MATCHING_COLUMNS = {"kind": "Patch kind", "patches": "Patches", "intensity_mean": "Mean grey level",
                    "intensity_sd": "SD of grey level", "edge_mean": "Distance from the edge (px)",
                    "edge_sd": "SD of distance"}
LEFT_OUT_COLUMNS = {"film": "Film", "severity": "Lesion", "reason": "Why left out"}


def ratio_display(rows: list[dict]):
    """The compression table as shown: target and achieved ratio, bytes per film, bpp, PSNR in the breast."""
    return pd.DataFrame([{
        "Target ratio": level_words(r["level"]),
        "Achieved ratio (median film)": ratio_words(r["achieved_median"]) if sbp.ratio_of(r["level"]) else "—",
        "Bytes per film (median)": f"{r['bytes_per_film']:,.0f}",
        "bpp (median)": f"{r['bpp']:.4f}",
        "PSNR inside the breast (dB)": f"{r['psnr_breast']:.1f}" if np.isfinite(r["psnr_breast"]) else "— (lossless)",
        "Films near the target": f"{r['reached_share']:.0%}",
    } for r in rows])


def performance_display(rows: list[dict]):
    """Study B's performance table as shown: the pooled AUROC and its change from originals, with
    intervals, and the AUPRC; the CSV keeps the per-fold means and SDs."""
    return pd.DataFrame([{
        "Model": model_label(r["model"]), "Experiment": f"({r['experiment']})", "Level": level_words(r["level"]),
        "Seeds": r["repeats"], "Pooled AUROC": value_interval(r["pooled_auroc"], r["auroc_low"], r["auroc_high"]),
        "Change from originals": ("—" if r["level"] == sbp.ORIGINAL else
                                  f"{r['delta']:+.3f} ({interval_words(r['delta_low'], r['delta_high'])})"),
        "AUPRC (mean over folds)": f"{r['auprc']:.3f}" if np.isfinite(r["auprc"]) else "—",
    } for r in rows])


def robustness_display(rows: list[dict]):
    return pd.DataFrame([{
        "Trained at": level_words(r["train_level"]), "Tested at": level_words(r["test_level"]),
        "AUROC, trained there": f"{r['auroc_trained_here']:.3f}",
        "AUROC, trained on originals": f"{r['auroc_trained_original']:.3f}",
        "Difference": f"{r['delta']:+.3f} ({interval_words(r['delta_low'], r['delta_high'])})",
    } for r in rows], columns=["Trained at", "Tested at", "AUROC, trained there", "AUROC, trained on originals",
                               "Difference"])


def selection_display(rows: list[dict]):
    return pd.DataFrame([{
        "CNN variant": variant_label(r["variant"]), "Parameters": f"{r['params']:,}",
        "Inner AUROC, pooled": value_interval(r["inner_auroc"], r["inner_low"], r["inner_high"]),
        "Per inner set": mean_sd_words(r["inner_mean"], r["inner_sd"]) if _finite(r["inner_mean"], r["inner_sd"]) else "—",
        "Final training loss": f"{r['final_loss']:.3f}",
    } for r in rows])


def nested_display(rows: list[dict]):
    """:func:`nested_choice`'s rows with the variants named in words."""
    out = []
    for r in rows:
        row = {"Outer fold": r["outer fold"], "Chosen": variant_label(r["chosen"]) if r["chosen"] in VARIANT_LABELS
               else r["chosen"]}
        for key, value in r.items():
            if key.endswith(" inner AUROC"):
                row[f"{variant_label(key[:-len(' inner AUROC')])}: inner AUROC"] = (
                    f"{value:.3f}" if np.isfinite(value) else "— (one class)")
        out.append(row)
    return pd.DataFrame(out)


def saliency_display(rows: list[dict]):
    return pd.DataFrame([{
        "Level": level_words(r["level"]), "Patches": r["patches"],
        "Uniform map": f"{r['uniform_baseline']:.2f}", "Centre-biased map": f"{r['centre_baseline']:.2f}",
        "Grad-CAM energy inside": value_interval(r["gradcam_energy"], r["gradcam_energy_low"], r["gradcam_energy_high"], 2),
        "Grad-CAM pointing game": value_interval(r["gradcam_hit"], r["gradcam_hit_low"], r["gradcam_hit_high"], 2),
        "Gradient energy inside": value_interval(r["gradient_energy"], r["gradient_energy_low"], r["gradient_energy_high"], 2),
        "Gradient pointing game": value_interval(r["gradient_hit"], r["gradient_hit_low"], r["gradient_hit_high"], 2),
    } for r in rows])


def sliding_display(rows: list[dict]):
    return pd.DataFrame([{
        "Level": level_words(r["level"]), "Films": r["films"],
        "Peak in the circle (share of films)": value_interval(r["hit_rate"], r["hit_low"], r["hit_high"], 2),
        "Chance": f"{r['chance']:.2f}" if np.isfinite(r["chance"]) else "—",
    } for r in rows])


def secondary_display(rows: list[dict]):
    return pd.DataFrame([{
        "Task": TASK_LABELS.get(r["task"], r["task"]), "Model": model_label(r["model"]),
        "Pooled AUROC": value_interval(r["pooled_auroc"], r["low"], r["high"]),
        "Per fold (mean ± SD)": mean_sd_words(r["auroc"], r["auroc_sd"]) if _finite(r["auroc"], r["auroc_sd"]) else "—",
    } for r in rows])


def contralateral_display(rows: list[dict]):
    return pd.DataFrame([{
        "Model": model_label(r["model"]), "Negatives": r["scheme"], "Patches": f"{r['patches']:,}",
        "Pooled AUROC": value_interval(r["pooled_auroc"], r["auroc_low"], r["auroc_high"]),
    } for r in rows])


def health_display(rows: list[dict]):
    return pd.DataFrame([{
        "Model": model_label(r["model"]), "Trained at": level_words(r["trained at"]), "Seed": r["repeat"] + 1,
        "Fold": r["fold"], "Attempts": r["attempts"], "Training AUROC, first try": f"{r['first train AUROC']:.3f}",
        "Training AUROC, kept": f"{r['train AUROC']:.3f}", "Learned": "yes" if r["learned"] else "no",
        "Why not": r["why not"] or "—",
    } for r in rows], columns=["Model", "Trained at", "Seed", "Fold", "Attempts", "Training AUROC, first try",
                               "Training AUROC, kept", "Learned", "Why not"])
