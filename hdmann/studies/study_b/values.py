"""Study B's two chapters as the notebooks glue them: one function per chapter computes the rows
every table and figure reads (``*_results``), one turns them into the dict of glued numbers and
sentences (``*_values``), which the notebook glues in one call
(:func:`hdmann.book.report.glue_all`). Every value a chapter's prose cites is made here, so the
notebook names none of them.
"""
from __future__ import annotations

import numpy as np

from hdmann.studies import papers as paper
from hdmann.studies.study_b import (control, control_report, maps, negative_control, pipeline as sbp, report as rep, scores,
                                    selection)
from hdmann.studies.study_b import wording as words
from hdmann.studies.study_b.config import StudyBConfig

COUNTED = ("patches", "malignant", "benign", "normal", "patients", "films", "left_out_count", "no_coordinates",
           "off_breast", "patients_split_across_folds")
SECONDARY_TASKS, SECONDARY_MODELS = ("abnormal", "malignant_vs_benign"), ("features", "shortcut")
SHOWN_FILMS, SHOWN_LEVELS = 4, 3  # the sliding-window figure: films, and compressed levels beside originals


def padded_matrix(cfg: StudyBConfig, data_root=None) -> tuple[list[str], np.ndarray]:
    """Experiment (c)'s matrix with a row of NaN for every test level no model trained at, so the
    heatmap is square (:func:`hdmann.studies.study_b.report.matrix`)."""
    trained, tested, m = rep.matrix(cfg, "cnn", "malignant", data_root)
    missing = np.full((len(tested) - len(trained), len(tested)), np.nan)
    return tested, np.vstack([m, missing]) if len(trained) < len(tested) else m


def sliding_examples(cfg: StudyBConfig, data_root=None) -> dict:
    """The arguments of :func:`hdmann.studies.study_b.figures.sliding_grid`: the first films' maps and
    peaks at originals and the highest compressed levels, with their malignant circles."""
    shown = [sbp.ORIGINAL] + [sbp.level_name(r) for r in cfg.patches.levels][-SHOWN_LEVELS:]
    by_level = {lv: maps.sliding_maps(cfg, sbp.ratio_of(lv), data_root) for lv in shown}
    sets = {lv: sbp.patch_set(cfg, sbp.ratio_of(lv), data_root) for lv in shown}
    mias = sbp.study_b.films(cfg, data_root)
    films = by_level[sbp.ORIGINAL]["films"][:SHOWN_FILMS]
    return {"films_by_level": {lv: sets[lv]["sliding"][:SHOWN_FILMS] for lv in shown},
            "maps_by_level": {lv: by_level[lv]["maps"][:SHOWN_FILMS] for lv in shown},
            "grid": by_level[sbp.ORIGINAL]["grid"],
            "lesions": [[les for les in mias.lesions[mias.names[i]] if les.severity == "malignant"] for i in films],
            "peaks_by_level": {lv: by_level[lv]["peaks"][:SHOWN_FILMS] for lv in shown},
            "names": [mias.names[i] for i in films]}


def secondary(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """The secondary tasks on originals: per task and model, the pooled AUROC with its interval."""
    rows = []
    for task in SECONDARY_TASKS:
        for m in SECONDARY_MODELS:
            row = rep.performance(cfg, m, "a", task, data_root)[0]
            rows.append({"task": task, "model": m, "auroc": row["auroc"], "auroc_sd": row["auroc_sd"],
                         "pooled_auroc": row["pooled_auroc"], "low": row["auroc_low"], "high": row["auroc_high"]})
    return rows


def patches_results(cfg: StudyBConfig, data_root=None) -> dict:
    """Every row the patch chapter's tables, figures and glued values read, each computed once."""
    perf = {(m, e): rep.performance(cfg, m, e, "malignant", data_root) for m in scores.models(cfg) for e in ("a", "b")}
    return {"counts": rep.counts(cfg, data_root), "ratios": rep.ratio_table(cfg, data_root), "perf": perf,
            "head_to_head": rep.head_to_head(cfg, "cnn", "features", sbp.ORIGINAL, "malignant", data_root),
            "fit": rep.training_fit(cfg, "cnn", sbp.ORIGINAL, data_root),
            "ensemble": rep.ensemble(cfg, sbp.ORIGINAL, "malignant", data_root),
            "robustness": rep.robustness(cfg, "cnn", "malignant", data_root),
            "knee": rep.seeded_knee(cfg, perf[("cnn", "a")], "cnn", "malignant", data_root),
            "saliency": rep.saliency_table(cfg, data_root), "sliding": rep.sliding_table(cfg, data_root),
            "health": rep.health_summary(cfg, data_root), "health_rows": rep.health_table(cfg, data_root),
            "selection": selection.selection_table(cfg, data_root),
            "nested": selection.nested_selection(cfg, data_root),
            "nested_estimate": selection.nested_estimate(cfg, data_root=data_root),
            "secondary": secondary(cfg, data_root),
            "contralateral": rep.contralateral(cfg, ("features", "shortcut"), "malignant", data_root)}


def _design(cfg: StudyBConfig, counts: dict) -> dict:
    return {"patch_size": cfg.patches.size, "pixel_um": rep.PIXEL_UM, "patch_mm": cfg.patches.size * rep.PIXEL_UM / 1000,
            "negatives_per_lesion": cfg.patches.negatives_per_lesion, "negative_scheme": cfg.patches.negative_scheme,
            "n_folds": cfg.n_folds, "repeats": cfg.patches.repeats, "level_repeats": cfg.patches.level_repeats,
            "resnet_repeats": cfg.patches.resnet_repeats, "epochs": cfg.patches.epochs,
            "resnet_epochs": cfg.patches.resnet_epochs, "shift": cfg.patches.shift,
            "inner_malignant": round(counts["malignant"] * (1 - 1 / cfg.n_folds) / cfg.n_folds),
            "weight_decay": cfg.patches.weight_decay, "learning_rate": cfg.patches.learning_rate,
            **words.plan_words(cfg, counts)}


def _performance(cfg: StudyBConfig, r: dict) -> dict:
    perf, h2h = r["perf"], r["head_to_head"]
    orig = {m: perf[(m, "a")][0] for m in scores.models(cfg) if perf[(m, "a")]}
    out = {}
    for m, row in orig.items():
        out.update({f"orig_{m}": row["pooled_auroc"], f"orig_{m}_low": row["auroc_low"],
                    f"orig_{m}_high": row["auroc_high"], f"orig_{m}_mean": row["auroc"],
                    f"orig_{m}_sd": row["auroc_sd"], f"orig_{m}_auprc": row["auprc"]})
    cnn = words.cnn_wording(orig["cnn"], h2h, r["fit"])
    return {**out, "orig_cnn_per_fold": words.mean_sd_words(orig["cnn"]["auroc"], orig["cnn"]["auroc_sd"]),
            "shortcut_words": words.shortcut_wording(orig["shortcut"]), "prevalence": orig["cnn"]["prevalence"],
            "cnn_minus_features": orig["cnn"]["pooled_auroc"] - orig["features"]["pooled_auroc"],
            "h2h_delta": h2h["delta"], "h2h_low": h2h["delta_low"], "h2h_high": h2h["delta_high"],
            "cnn_chance": cnn["chance"], "cnn_versus": cnn["versus"], "cnn_why": cnn["why"], "cnn_rule": cnn["rule"],
            "ens_text": words.ensemble_wording(r["ensemble"]),
            "resnet_text": words.resnet_wording(orig.get("resnet18"), cfg.patches.resnet_epochs),
            "knee": r["knee"]["knee"], "knee_text": words.knee_sentence(r["knee"]["knee"]),
            "knee_seeds": r["knee"]["wording"], "knee_margin": r["knee"]["margin"]}


def _maps(cfg: StudyBConfig, r: dict) -> dict:
    sal, slide = r["saliency"][0], r["sliding"]
    return {"sal_uniform": sal["uniform_baseline"], "sal_centre": sal["centre_baseline"],
            "centre_sigma": cfg.patches.saliency_centre_sigma, "sal_gradcam": sal["gradcam_energy"],
            "sal_gradcam_low": sal["gradcam_energy_low"], "sal_gradcam_high": sal["gradcam_energy_high"],
            "slide_orig": slide[0]["hit_rate"], "slide_films": slide[0]["films"], "slide_top": slide[-1]["hit_rate"],
            "slide_chance": slide[0]["chance"], "slide_low": slide[0]["hit_low"]}


def _compression(ratios: list[dict]) -> dict:
    floor, example = ratios[-1], rep.example_level(ratios)
    return {"floor_ratio": floor["achieved_median"], "floor_bytes": floor["bytes_per_film"],
            "top_target": floor["target_ratio"], "top_target_words": words.ratio_words(floor["target_ratio"]),
            "floor_ratio_words": words.ratio_words(floor["achieved_median"]),
            "example_ratio": example["words"], "example_bytes": example["bytes_per_film"],
            "film_px": rep.FILM_PX, "film_mib": rep.FILM_PX ** 2 / 2 ** 20}


def _selection(cfg: StudyBConfig, r: dict) -> dict:
    rows, nested, est = r["selection"], r["nested"], r["nested_estimate"]
    chosen, configured = selection.selected_variant(rows), selection.configured_variant(cfg)
    low, high = selection.loss_extremes(rows)
    out = {"select_variants": words.variants_words(cfg.patches.select_variants),
           "select_plan": words.selection_plan_words(cfg), "selection_rule": chosen["rule"],
           "selected_variant": words.variant_label(chosen["variant"]),
           "configured_variant": words.variant_label(configured),
           "selection_agrees": words.agreement(chosen["variant"] == configured)}
    for row in rows:
        v = row["variant"]
        out.update({f"sel_{v}": row["inner_auroc"], f"sel_{v}_low": row["inner_low"], f"sel_{v}_high": row["inner_high"]})
    out.update({"cnn_final_loss": r["fit"]["final_loss"], "constant_loss": rep.CONSTANT_LOSS,
                "sel_loss_low": low["final_loss"], "sel_loss_low_variant": words.variant_label(low["variant"]),
                "sel_loss_high": high["final_loss"], "sel_loss_high_variant": words.variant_label(high["variant"]),
                "nested_agree": nested["agree"], "nested_folds": nested["folds"],
                "nested_choices": words.variants_words(est["chosen"], "; ")})
    for key in ("auroc", "auroc_low", "auroc_high", "configured_auroc", "versus_configured", "versus_configured_low",
                "versus_configured_high", "features_auroc", "versus_features", "versus_features_low",
                "versus_features_high"):
        out[f"nested_{key}"] = est[key]
    out["nested_versus_features_words"] = words.versus_wording(est["versus_features"], est["versus_features_low"],
                                                               est["versus_features_high"], "the texture features")
    return out


def _secondary(r: dict) -> dict:
    out = {}
    for row in r["secondary"]:
        name = f"sec_{row['task']}_{row['model']}"
        out.update({name: row["pooled_auroc"], f"{name}_low": row["low"], f"{name}_high": row["high"]})
    out["secondary_words"] = words.secondary_wording(r["secondary"])
    for row in r["contralateral"]:
        name = f"contra_{row['scheme']}_{row['model']}"
        out.update({name: row["pooled_auroc"], f"{name}_low": row["auroc_low"], f"{name}_high": row["auroc_high"]})
    contra = r["contralateral"]
    return {**out, "contra_patches": contra[1]["patches"], "contra_negatives": contra[1]["negatives_contralateral"],
            "contra_words": words.contralateral_wording(contra)}


def patches_values(cfg: StudyBConfig, profile: str, results: dict) -> dict:
    """Every number and sentence the patch chapter glues, from :func:`patches_results`' rows."""
    counts, health = results["counts"], results["health"]
    return {"profile": profile, **{f"n_{key}": counts[key] for key in COUNTED}, **_design(cfg, counts),
            **_performance(cfg, results), **_maps(cfg, results), **_compression(results["ratios"]),
            **{f"health_{key}": health[key] for key in ("rule", "text", "folds", "first_try", "retrained",
                                                        "recovered", "unhealthy", "named")},
            **_selection(cfg, results), **_secondary(results)}


FEATURES = (("brightness", "mean intensity"), ("area", "breast area"), ("side", "side (left)"),
            ("tissue", "tissue density (F<G<D)"))  # glue prefix, the control's name for the one-feature baseline


def control_results(cfg: StudyBConfig, data_root=None) -> dict:
    """Every row the whole-film control's tables, figure and glued values read, each computed once."""
    plan = negative_control.control_plan(cfg)
    mias = control.films(cfg, data_root)
    fold = control.folds(cfg, mias)
    features = negative_control.film_features(cfg, data_root)
    summaries = [negative_control.run_summary(cfg, run, features, mias.patient) for run in negative_control.control_runs(cfg, data_root)]
    untrained = np.array([np.nanmean(negative_control.fold_auroc(mias.malignant, s, fold))
                          for s in negative_control.untrained_scores(cfg, plan["untrained"], data_root)])
    return {"plan": plan, "films": mias, "scale": negative_control.lesion_scale(cfg, data_root),
            "pixels": negative_control.pixel_baseline(cfg, data_root=data_root),
            "folds": control.fold_table(cfg, data_root), "summaries": summaries,
            "features": negative_control.feature_baselines(cfg, data_root), "untrained": untrained,
            "side_splits": negative_control.side_learner_over_splits(cfg, plan["fold_splits"], data_root)}


def control_values(cfg: StudyBConfig, profile: str, results: dict) -> dict:
    """Every number and sentence the whole-film control glues, from :func:`control_results`' rows."""
    mias, scale, pixels, summaries = results["films"], results["scale"], results["pixels"], results["summaries"]
    real = summaries[0]
    permuted = [s for s in summaries if s["kind"] == "permuted labels"]
    aligned = [s for s in summaries if s["kind"] == "sides aligned"]
    bands, side, splits = control_report.paper_bands(), control.sides(mias), results["side_splits"]
    out = {"profile": profile, "control_films": len(mias), "control_malignant": int(mias.malignant.sum()),
           "control_patients": len(np.unique(mias.patient)), "input_size": cfg.films.input_size,
           "n_lesions": scale["lesions"], "film_size": scale["film_size"], "lesion_radius": scale["median_radius"],
           "lesion_radius_input": scale["median_radius_input"], "lesion_area_pct": 100 * scale["median_area_share"],
           "calc_pct": 100 * scale["calcification_share"], "paper_mammograms": paper.STUDY_B["mammograms"],
           "paper_auroc_upto_5k": paper.STUDY_B["auroc_upto_5k"],
           "paper_auroc_10k_11k": paper.STUDY_B["auroc_10k_11k"], "paper_band_low": bands["low"],
           "paper_band_high": bands["high"], "n_folds": cfg.n_folds,
           "inner_share": control_report.share_words(cfg.films.inner_validation_fraction)}
    for r in pixels:
        out.update({f"pixels_{r['size']}": r["auroc"], f"pixels_{r['size']}_low": r["auroc_low"],
                    f"pixels_{r['size']}_high": r["auroc_high"]})
    out.update({"pixel_words": control_report.pixel_words(pixels), "pixels_top_size": pixels[-1]["size"],
                "pixels_top_low": pixels[-1]["auroc_low"], "pixels_top_high": pixels[-1]["auroc_high"],
                "readme_low": control_report.DATA_README_PIXEL_AUROC[0],
                "readme_high": control_report.DATA_README_PIXEL_AUROC[1],
                "patients_split": int(results["folds"][0]["patients_split_across_folds"]),
                "real_auroc": real["auroc"], "real_auroc_sd": real["auroc_sd"], "real_auroc_low": real["auroc_low"],
                "real_auroc_high": real["auroc_high"], "real_pooled": real["pooled_auroc"], "real_auprc": real["auprc"],
                "control_prevalence": real["prevalence"],
                "perm_aurocs": ", ".join(f"{s['auroc']:.3f}" for s in permuted),
                "early_words": control_report.early_words(real),
                "aligned_aurocs": control_report.aurocs_words(aligned)})
    by_feature = {r["feature"]: r for r in results["features"]}
    for key, name in FEATURES:
        out.update({f"{key}_auroc": by_feature[name]["auroc"], f"{key}_low": by_feature[name]["auroc_low"],
                    f"{key}_high": by_feature[name]["auroc_high"]})
    verdict = control_report.null_verdict(real, permuted, results["untrained"])
    out.update({"mal_left": int(mias.malignant[side].sum()), "mal_right": int(mias.malignant[~side].sum()),
                "n_splits": len(splits), "side_splits_mean": float(splits.mean()),
                "side_splits_below_pct": 100 * float(np.mean(splits < 0.5)),
                "real_best_epochs": ", ".join(str(e) for e in real["best_epochs"]),
                "real_best_epoch_1_share": int(sum(e <= 2 for e in real["best_epochs"])),
                "below_words": control_report.below_chance_words(real),
                "control_inner_malignant_words": control_report.inner_malignant_words(cfg, int(mias.malignant.sum())),
                "real_spread": real["score_spread"], "real_distinct": real["distinct_scores_min"],
                "real_films_fold": real["test_films_min"], "real_side_sep": real["side_separation"],
                "real_brightness_r": float(np.median(real["brightness_r_folds"])),
                "real_adjusted": real["auroc_brightness_adjusted"],
                "aligned_words": control_report.aligned_words(aligned),
                "aligned_side_sep": control_report.aurocs_words(aligned, "side_separation", 2)})
    out.update({f"null_{key}": verdict[key] for key in ("untrained_mean", "untrained_sd", "untrained_low",
                                                         "untrained_high", "verdict", "rule", "below_chance")})
    return out
