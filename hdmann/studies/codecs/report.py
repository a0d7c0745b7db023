"""The codec chapter's report: rate-accuracy curves over the training seeds with intervals
(:mod:`hdmann.studies.codecs.curves`), the margin rules, BD-accuracy and the ranking
(:mod:`hdmann.studies.codecs.ranking`), gathered here with the chapter's tables and wording and the values its
prose cites (:func:`page_values`). Nothing here trains or codes an image; everything reads
:mod:`hdmann.studies.codecs.pipeline`.

Every point of a curve is a seed mean: Study A over the models of every training seed
(:func:`hdmann.studies.study_a.pipeline.seed_configs`), Study B over the patch CNN's repeats on
originals, so the values on originals are the Study A and Study B chapters' own.

Intervals resample training seeds and images together. Study A: a seeds x images hit matrix, drawn
as :func:`hdmann.methods.evaluation.seed_image_ci` draws it (:func:`hdmann.methods.bootstrap.seed_image_replicates`).
Study B: patients are resampled (all patches of a drawn patient come along), each repeat's pooled
AUROC computed on every resample, then the repeats are resampled (:func:`hdmann.methods.bootstrap.resample_seeds`).
The same draws serve every codec and setting, so differences are paired. Each seed's own interval
(images or patients resampled, that seed alone) decides the seed-by-seed outcomes.

BD-accuracy (after Bjontegaard's BD-rate, VCEG-M33): accuracy is interpolated piecewise-linearly in
log10(bpp) between a codec's measured points (not with the cubic fit of BD-rate: accuracy curves are
neither smooth nor monotone), averaged over the bpp range every compared codec covers, and
differenced from the reference codec's average; the same resamples give its interval. A codec is
*better* or *worse* than the reference only when that interval lies wholly beyond ``bd_margin``,
*within the margin* when it lies wholly inside it, else *undecided*; and only when enough seeds reach
the same outcome on their own (``seed_agreement``).
"""
from __future__ import annotations

from hdmann.engine import codecs
from hdmann.methods.words import count, listing
from hdmann.studies.codecs import pipeline as ra
from hdmann.studies.codecs.config import CodecConfig, codec_config
from hdmann.studies.codecs.curves import (METRIC_LABELS, METRICS, STUDY_OF, bytes_per_bpp, curves, curves_from,
                                          image_side, margin_of, original_value, points_table, seed_agreement,
                                          seed_count, seed_curve, study_a_replicates, study_b_replicates, study_labels)
from hdmann.studies.codecs.ranking import (BETTER, FINER, FLOOR, LOSS, MARGIN_RULE, NEWER, REFERENCE, RESOLUTION_RULE,
                                           STRADDLES, UNDECIDED, WITHIN, WORSE, bd_accuracy, common_range, compare,
                                           compare_rule, detectable, interp_weights, lowest_within_margin, ranking,
                                           seed_agreed)
from hdmann.studies.study_a import report as sar
from hdmann.studies.study_b import pipeline as sbp, scores as sbs
from hdmann.studies.study_b.tables import table_view  # noqa: F401  (the chapter's tables wrap as Study B's do)

__all__ = ["BETTER", "FINER", "FLOOR", "LOSS", "MARGIN_RULE", "METRICS", "METRIC_LABELS", "NEWER", "REFERENCE",
           "RESOLUTION_RULE", "SETTINGS_COLUMNS", "SHORT_METRICS", "STRADDLES", "STUDY_OF", "UNDECIDED", "WITHIN", "WORSE",
           "analysis", "answer", "answer_from", "bd_accuracy", "bytes_per_bpp", "chapter_values", "common_range",
           "compare", "compare_rule", "curves", "curves_from", "detectable", "image_side", "interp_weights",
           "lowest_within_margin", "margin_of", "original_value", "originals", "page_values", "points_table", "ranking",
           "ranking_display", "ranking_table", "ranking_values", "resolution", "seed_agreed", "seed_agreement",
           "seed_count", "seed_curve", "seed_words", "settings_table", "study_a_replicates", "study_b_replicates",
           "study_labels", "summary", "table_view", "versions_display"]


def seed_words(n: int, what: str = "training seed") -> str:
    """"the mean over 3 training seeds", or "one training seed" where the profile trains one."""
    return f"the mean over {count(n, what)}" if n > 1 else f"one {what} (this profile trains one)"


def study_a_check(cfg: CodecConfig, curve: dict, data_root=None) -> dict:
    """The Study A chapter's seed-mean accuracy on originals per part (from its own predictions of every
    seed's model, :func:`hdmann.studies.study_a.report.hits`), beside the one computed here from the
    same models: equal, unless the models read here are not that chapter's."""
    out = {}
    for part in METRICS["a"]:
        chapter = float(sar.hits(cfg.study_a, data_root, part, "original").mean())
        here = curve[part][ra.ORIGINAL]["value"]
        out[part] = {"chapter": chapter, "here": here, "equal": bool(abs(chapter - here) < 1e-9)}
    return out


def study_b_check(cfg: CodecConfig, curve: dict, data_root=None) -> dict:
    """The Study B chapter's pooled CNN AUROC on originals (its own stage, the mean over its repeats),
    beside the one recomputed here from the same fold models: equal, unless the models read here are
    not that chapter's."""
    bcfg = cfg.study_b
    sets = sbs.score_sets(bcfg, "cnn", sbp.ORIGINAL, "malignant", data_root)
    weights = sbs.patient_weights(sbp.patch_plan(bcfg, data_root).patient, 10, cfg.bootstrap_seed)
    chapter, _ = sbs.pooled_auroc_boot(sets, sbp.ORIGINAL, weights)
    here = curve["cnn"][ra.ORIGINAL]["value"]
    return {"chapter": chapter, "here": here, "equal": bool(abs(chapter - here) < 1e-6)}


def originals(cfg: CodecConfig, result: dict, data_root=None) -> dict:
    """What the prose says of originals, per study: each metric's seed mean with its interval, the
    sample sizes, the seeds behind it, and whether it equals the value the study's own chapter glues."""
    curve_a, curve_b = result["curves"]["a"], result["curves"]["b"]
    out = {"a_seeds": seed_words(seed_count(cfg, "a")), "b_seeds": seed_words(seed_count(cfg, "b")),
           "seed_rule": ("intervals resample the training seeds and the images together (the same draws for every "
                         "codec and setting, so differences are paired)")}
    for part in METRICS["a"]:
        ref = original_value(curve_a[part])
        out |= {f"a_{part}_orig": ref["value"], f"a_{part}_orig_low": ref["low"], f"a_{part}_orig_high": ref["high"],
                f"a_{part}_n": ref["n"]}
    check_a = study_a_check(cfg, curve_a, data_root)
    out["a_check"] = "equal" if all(c["equal"] for c in check_a.values()) else "differ from"
    out["a_check_val"], out["a_check_test"] = check_a["val"]["chapter"], check_a["test"]["chapter"]
    for model in METRICS["b"]:
        ref = original_value(curve_b[model])
        out |= {f"b_{model}_orig": ref["value"], f"b_{model}_orig_low": ref["low"], f"b_{model}_orig_high": ref["high"]}
    out["b_patches"] = original_value(curve_b["cnn"])["n"]
    check_b = study_b_check(cfg, curve_b, data_root)
    out["b_check"] = "equals" if check_b["equal"] else "differs from"
    out["b_check_chapter"] = check_b["chapter"]
    return out


def _outcome_words(row: dict) -> str:
    """"better (3 of 3 seeds)", "undecided (the seeds pooled: better; 1 of 3 seeds alone)", "undecided"."""
    n = row["seeds"]
    if row["verdict"] == REFERENCE:
        return REFERENCE
    if row["verdict"] != UNDECIDED:
        return row["verdict"] + (f" ({row['seeds_agree']} of {n} seeds)" if n > 1 else "")
    if row["pooled_verdict"] != UNDECIDED:
        return f"undecided (the seeds pooled: {row['pooled_verdict']}; {row['seeds_agree']} of {n} seeds alone)"
    return UNDECIDED


def _by(rows: list[dict], verdict: str) -> str:
    return listing(r["codec"] for r in rows if r["verdict"] == verdict) or "none"


def resolution(rank: dict) -> dict:
    """Whether the sample resolves the lowest-bpp rule's margin: for how many codecs the walk stopped
    on an interval wider than the margin, and the smallest detectable change where each walk stopped."""
    rows = rank["rows"]
    m = rank["margin"]
    finer = [r for r in rows if r["lowest_status"] == FINER]
    shown = finer or rows
    lo, hi = min(r["detectable"] for r in shown), max(r["detectable"] for r in shown)
    span = f"{lo:.3f}" if abs(hi - lo) < 5e-4 else f"{lo:.3f} to {hi:.3f}"
    if not finer:
        text = f"resolved for every codec (the smallest detectable change where each walk stopped: {span})"
    else:
        text = (f"finer than the sample resolves for {len(finer)} of {len(rows)} codecs (the smallest detectable change "
                f"where their walk stopped: {span}, against a margin of {m:g})")
    return {"finer": len(finer), "codecs": len(rows), "detectable_low": lo, "detectable_high": hi, "text": text,
            "resolves": "resolves" if not finer else "does not resolve"}


def summary(rank: dict) -> dict:
    """The ranking in words and the codecs a perceptual metric would pick, for the prose."""
    rows = [r for r in rank["rows"] if "bd_vs_reference" in r]
    res = resolution(rank)["text"] if rank["rows"] else "not computed"
    if not rows:
        return {"best": "none", "text": "the codecs share no bits-per-pixel range, so no average difference is defined",
                "best_psnr": "none", "best_ssim": "none", "agrees_psnr": "cannot be compared", "range": "none",
                "better": "none", "worse": "none", "within": "none", "undecided": "none", "resolution": res}
    best = rows[0]
    ref = codecs.CODECS[rank["reference"]].label
    if best["name"] == rank["reference"]:
        text = f"the reference, {ref}, ranks first"
    else:
        text = (f"{best['codec']} ranks first, {best['bd_vs_reference']:+.3f} against {ref} (95 % interval "
                f"{best['bd_low']:+.3f} to {best['bd_high']:+.3f}): {_outcome_words(best)}")
    by_psnr = max(rows, key=lambda r: r["psnr_over_range"])
    by_ssim = max(rows, key=lambda r: r["ssim_over_range"])
    return {"best": best["codec"], "text": text, "best_psnr": by_psnr["codec"], "best_ssim": by_ssim["codec"],
            "agrees_psnr": "agrees" if by_psnr["name"] == best["name"] else "disagrees",
            "range": f"{rank['range'][0]:.3g} to {rank['range'][1]:.3g} bpp",
            "better": _by(rows, BETTER), "worse": _by(rows, WORSE), "within": _by(rows, WITHIN),
            "undecided": _by(rows, UNDECIDED), "resolution": res}


def ranking_table(rankings: dict) -> list[dict]:
    """All rankings as one table (one row per metric and codec)."""
    keep = ("metric", "rank", "codec", "bd_vs_reference", "bd_low", "bd_high", "verdict", "seeds", "mean_over_range",
            "mean_low", "mean_high", "lowest_bpp_within_margin", "bytes_there", "setting_there", "lowest_status",
            "detectable", "psnr_over_range", "ssim_over_range")
    out = []
    for rank in rankings.values():
        for r in rank["rows"]:
            seeds = "—" if r.get("seeds_agree") is None else f"{r['seeds_agree']} of {r['seeds']}"
            out.append({k: r.get(k) for k in keep} | {"metric": METRIC_LABELS[r["metric"]], "seeds": seeds})
    return out


def analysis(cfg: CodecConfig, names, data_root=None) -> dict:
    """Both studies' curves over ``names`` and every metric's ranking: what the chapter, its verdict and
    the landing page's figure read (``{"curves": {study: ...}, "rankings": {metric: ...}}``)."""
    curves_by_study = {study: curves(cfg, study, names, data_root) for study in ra.STUDIES}
    rankings = {metric: ranking(cfg, curve, metric) for study in ra.STUDIES
                for metric, curve in curves_by_study[study].items()}
    return {"curves": curves_by_study, "rankings": rankings}


def chapter_values(cfg: CodecConfig, names, missing) -> dict:
    """The chapter's opening values: which codecs ran (and which could not, and why), its margins,
    rules and resampling."""
    return {"n_codecs": len(names), "codec_list": ", ".join(codecs.CODECS[c].label for c in names),
            "missing_text": "; ".join(m["reason"] for m in missing) if missing
            else "none: every requested codec's library is installed",
            "accuracy_margin": cfg.accuracy_margin, "auroc_margin": cfg.auroc_margin, "bd_margin": cfg.bd_margin,
            "margin_rule": MARGIN_RULE, "resolution_rule": RESOLUTION_RULE, "compare_rule": compare_rule(cfg),
            "bootstrap_samples": cfg.bootstrap_samples}


def ranking_values(rankings: dict) -> dict:
    """Per metric, the ranking's words (:func:`summary`) and per codec its BD difference and lowest bpp,
    for the prose: ``{metric: {"words": ..., "codecs": {codec: {...}}}}``."""
    refs = dict.fromkeys(codecs.CODECS[r["reference"]].label for r in rankings.values() if r["reference"])
    out = {"reference": " / ".join(refs), "metrics": {}}
    for metric, rank in rankings.items():
        per_codec = {}
        for row in rank["rows"]:
            low = row["lowest_bpp_within_margin"]
            per_codec[row["name"]] = {"low": low if low is not None else float("nan"), "detectable": row["detectable"],
                                      **({"bd": row["bd_vs_reference"], "bd_low": row["bd_low"], "bd_high": row["bd_high"]}
                                         if "bd_vs_reference" in row else {})}
        out["metrics"][metric] = {"words": summary(rank), "codecs": per_codec}
    return out


def answer(profile: str, data_root=None, overrides: dict | None = None, names=None) -> dict:
    """What the landing page's codec figure (:func:`hdmann.studies.codecs.figures.codec_answer`) needs, in
    one call: per study the ranking that decides the chapter's verdict (Study A's reporting half, with
    its test folder as the held-out check; Study B's patch CNN), the practical margin and the reference."""
    cfg = codec_config(profile, overrides)
    usable, _ = ra.usable(list(names or cfg.codecs))
    return answer_from(cfg, analysis(cfg, usable, data_root)["rankings"])


def answer_from(cfg: CodecConfig, rankings: dict) -> dict:
    """:func:`answer` from rankings already computed (the chapter's)."""
    return {"panels": {"Study A: HD-MANN accuracy": rankings["val"], "Study B: patch CNN AUROC": rankings["cnn"]},
            "held_out": {"Study A: HD-MANN accuracy": rankings["test"]}, "bd_margin": cfg.bd_margin,
            "reference": codecs.CODECS[cfg.reference].label, "profile": cfg.profile}


def settings_table(cfg: CodecConfig, names) -> list[dict]:
    """The knob ladder of each codec on each dataset, and the encoder preset used."""
    preset = {"webp": f"method {cfg.webp_method}", "avif": f"speed {cfg.avif_speed}", "jxl": f"effort {cfg.jxl_effort}"}
    rows = []
    for codec in names:
        spec = codecs.CODECS[codec]
        rows.append({"codec": spec.label, "library": spec.library, "knob": spec.knob, "preset": preset.get(codec, "-"),
                     "ISIC (Study A)": ", ".join(f"{v:g}" for v in ra.settings(cfg, "a", codec)) or "not run",
                     "MIAS films (Study B)": ", ".join(f"{v:g}" for v in ra.settings(cfg, "b", codec))
                     or "not run (grey films: same as 4:2:0)"})
    return rows


def versions_display(rows: list[dict]):
    """The codec libraries this build used, as the page shows them."""
    import pandas as pd

    return pd.DataFrame([{"Codec": r["label"], "Library": r["library"], "Version": r["version"] or "—",
                          "Installed": "yes" if r["available"] else "no"} for r in rows])


SETTINGS_COLUMNS = {"codec": "Codec", "library": "Library", "knob": "Knob", "preset": "Encoder preset",
                    "ISIC (Study A)": "ISIC settings (Study A)", "MIAS films (Study B)": "MIAS settings (Study B)"}
SHORT_METRICS = {"val": "Study A, reporting half", "test": "Study A, test folder", "cnn": "Study B, patch CNN",
                 "features": "Study B, texture features"}


def ranking_display(rankings: dict):
    """The ranking as the page shows it: per classifier and codec, the BD difference from the reference
    with its interval and outcome, the lowest bpp within the margin and why the walk stopped there; the
    CSV (:func:`ranking_table`) keeps every column."""
    import pandas as pd

    rows = []
    for metric, rank in rankings.items():
        for r in rank["rows"]:
            bd = ("—" if "bd_vs_reference" not in r else "reference" if r["verdict"] == REFERENCE else
                  f"{r['bd_vs_reference']:+.3f} ({r['bd_low']:+.3f} to {r['bd_high']:+.3f})")
            low = r["lowest_bpp_within_margin"]
            rows.append({"Classifier": SHORT_METRICS[metric], "Rank": r.get("rank", "—"), "Codec": r["codec"],
                         "BD difference (95 % interval)": bd,
                         "Outcome": _outcome_words(r) if "verdict" in r else "—",
                         "Lowest bpp within the margin": "—" if low is None else f"{low:.3g}",
                         "Why the walk stopped": r["lowest_status"],
                         "Smallest detectable change": f"{r['detectable']:.3f}"})
    return pd.DataFrame(rows)


def page_values(cfg: CodecConfig, names, missing, result: dict, verdict_words: dict, data_root=None) -> dict:
    """Every value and sentence the chapter's prose cites, by glue name: the opening (:func:`chapter_values`), the
    verdicts' words (``verdict_words``: :func:`hdmann.studies.codecs.claims.outcome_words`, passed in because the
    claims module reads this one), each study's values on originals (:func:`originals`) and image side, and per
    metric the ranking's words and per codec its lowest bpp, detectable change and BD difference."""
    curve_a, curve_b = result["curves"]["a"], result["curves"]["b"]
    values = {"profile": cfg.profile, **chapter_values(cfg, names, missing),
              "verdict_a": verdict_words["a"], "verdict_a_check": verdict_words["a_check"], "verdict_b": verdict_words["b"],
              **{k: v for k, v in originals(cfg, result, data_root).items() if k != "seed_rule"},
              "a_side": image_side(curve_a["val"]), "b_side": image_side(curve_b["cnn"])}
    ranked = ranking_values(result["rankings"])
    values["reference"] = ranked["reference"]
    for metric, entry in ranked["metrics"].items():
        for word in ("text", "range", "best", "best_psnr", "best_ssim", "agrees_psnr", "better", "worse", "within",
                     "undecided", "resolution"):
            values[f"rank_{metric}_{word}"] = entry["words"][word]
        for codec, value in entry["codecs"].items():
            values[f"low_{metric}_{codec}"], values[f"detectable_{metric}_{codec}"] = value["low"], value["detectable"]
            if "bd" in value:
                values.update({f"bd_{metric}_{codec}": value["bd"], f"bd_{metric}_{codec}_low": value["bd_low"],
                               f"bd_{metric}_{codec}_high": value["bd_high"]})
    return values
