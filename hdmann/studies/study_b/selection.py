"""Study B on patches, model selection: the CNN variants scored on inner splits, the rule that picks
one, and the strictly nested choice (each outer fold picks from its own inner split alone), with
the held-out estimate of the CNN so chosen.

Nothing here trains; it reads :func:`hdmann.studies.study_b.pipeline.selection`'s cached scores.
"""
from __future__ import annotations

import numpy as np

from hdmann.methods import bootstrap, evaluation
from hdmann.studies.study_b import pipeline as sbp, scores
from hdmann.studies.study_b.config import PATCH_CNN_VARIANTS, StudyBConfig


SELECTION_TIE = 0.02  # inner-validation AUROCs closer than this count as a tie: the smaller model wins


def selection_table(cfg: StudyBConfig, data_root=None) -> list[dict]:
    """The CNN variants tried on the inner splits (see :func:`hdmann.studies.study_b.pipeline.selection`):
    pooled inner-validation AUROC with a patient-bootstrap interval, mean +- SD over the five inner
    validation sets, parameters, and the final training loss."""
    rows = []
    for variant in cfg.patches.select_variants:
        s = sbp.selection(cfg, variant, data_root)
        y, score = s["labels"], s["score"].astype(np.float64)
        weights = bootstrap.group_weights(s["patient"], cfg.bootstrap_samples, cfg.bootstrap_seed)
        low, high = bootstrap.interval(bootstrap.weighted_auroc(y, score, weights))
        per = [evaluation.auroc(y[s["outer_fold"] == k], score[s["outer_fold"] == k]) for k in range(cfg.n_folds)]
        mean, sd = evaluation.mean_sd(per)
        rows.append({"variant": variant, "params": int(s["params"]),
                     "inner_auroc": float(bootstrap.weighted_auroc(y, score, np.ones((1, len(y))))[0]),
                     "inner_low": low, "inner_high": high, "inner_mean": mean, "inner_sd": sd,
                     "final_loss": float(np.mean(s["final_loss"]))})
    return rows


def selected_variant(rows: list[dict]) -> dict:
    """The rule, fixed before the runs: the highest pooled inner-validation AUROC, except that a
    variant within :data:`SELECTION_TIE` of it with fewer parameters wins (the simpler model)."""
    best = max(r["inner_auroc"] for r in rows)
    near = [r for r in rows if r["inner_auroc"] >= best - SELECTION_TIE]
    chosen = min(near, key=lambda r: (r["params"], -r["inner_auroc"]))
    return {"variant": chosen["variant"], "rule": f"the highest pooled inner-validation AUROC; a variant within "
            f"{SELECTION_TIE} of it with fewer parameters wins"}


def nested_choice(selections: dict[str, dict], n_folds: int) -> list[dict]:
    """Strictly nested selection: for each outer fold k, the variant that :func:`selected_variant`'s
    rule picks from the inner-validation scores computed inside fold k's own training patients
    (``outer_fold == k``) alone. Those rows are never fold k's test patches, and no other fold's inner
    scores vote for fold k (they hold fold k's test patients). ``selections``: variant ->
    :func:`hdmann.studies.study_b.pipeline.selection` output."""
    rows = []
    for k in range(n_folds):
        candidates = []
        for variant, s in selections.items():
            mine = s["outer_fold"] == k
            y, score = s["labels"][mine], s["score"][mine].astype(np.float64)
            auc = evaluation.auroc(y, score) if len(np.unique(y)) == 2 else float("nan")
            candidates.append({"variant": variant, "inner_auroc": auc, "params": int(s["params"])})
        scored = [c for c in candidates if np.isfinite(c["inner_auroc"])]
        chosen = selected_variant(scored)["variant"] if scored else "none (no malignant inner patch)"
        rows.append({"outer fold": k + 1, "chosen": chosen,
                     **{f"{c['variant']} inner AUROC": c["inner_auroc"] for c in candidates}})
    return rows


def nested_selection(cfg: StudyBConfig, data_root=None) -> dict:
    """:func:`nested_choice` on this profile's variants, and in how many outer folds it picks the
    configured CNN (the one every run trains)."""
    rows = nested_choice({v: sbp.selection(cfg, v, data_root) for v in cfg.patches.select_variants}, cfg.n_folds)
    configured = configured_variant(cfg)
    return {"rows": rows, "configured": configured or "none of the tried variants",
            "agree": sum(r["chosen"] == configured for r in rows), "folds": len(rows)}


def nested_scores(cfg: StudyBConfig, task: str = "malignant", data_root=None) -> dict:
    """Repeat 0's held-out scores with the variant chosen strictly nested: every patch of outer fold
    k is scored by the fold-k model of the variant :func:`nested_choice` picked for fold k (each
    variant's repeat 0 is in the chapter's graph, :func:`hdmann.studies.study_b.patch_stages`). A fold whose inner
    split holds no malignant patch has no choice and keeps the configured CNN (so named in
    ``chosen``, the variant per fold)."""
    rows = nested_selection(cfg, data_root)["rows"]
    out = {k: np.array(v, copy=True) for k, v in sbp.scores(cfg, "cnn", None, 0, task, data_root).items()}
    chosen = []
    for row in rows:
        k, variant = row["outer fold"] - 1, row["chosen"]
        if variant not in cfg.patches.select_variants:
            chosen.append(f"{configured_variant(cfg) or 'the configured CNN'} (kept: no malignant inner patch)")
            continue
        s = sbp.scores(sbp.variant_config(cfg, variant), "cnn", None, 0, task, data_root)
        if not np.array_equal(s["fold"], out["fold"]):
            raise RuntimeError(f"variant {variant}'s repeat 0 has other folds than the configured CNN's: "
                               "the nested scores would mix patches; rebuild both runs (hdmann run study_b_patches)")
        mine = out["fold"] == k
        for level in sbp.levels(cfg):
            out[level][mine] = s[level][mine]
        chosen.append(variant)
    return {**out, "chosen": chosen}


def nested_estimate(cfg: StudyBConfig, task: str = "malignant", data_root=None) -> dict:
    """The CNN trained as strictly nested selection chooses it (:func:`nested_scores`), on originals:
    pooled AUROC with a patient-bootstrap interval, and paired differences (same resampled patients)
    from the configured CNN and from the texture features on the same repeat's folds."""
    weights = scores.patch_weights(cfg, data_root)
    nested = nested_scores(cfg, task, data_root)
    point, boot = scores.pooled_auroc_boot([nested], sbp.ORIGINAL, weights)
    out = {"auroc": point, "chosen": nested["chosen"]}
    out["auroc_low"], out["auroc_high"] = bootstrap.interval(boot)
    for name, model in (("configured", "cnn"), ("features", "features")):
        other, other_boot = scores.pooled_auroc_boot(scores.score_sets(cfg, model, sbp.ORIGINAL, task, data_root, repeat=0),
                                              sbp.ORIGINAL, weights)
        low, high = bootstrap.paired_interval(boot, other_boot)
        out.update({f"{name}_auroc": other, f"versus_{name}": point - other,
                    f"versus_{name}_low": low, f"versus_{name}_high": high})
    return out


def configured_variant(cfg: StudyBConfig) -> str | None:
    for name, values in PATCH_CNN_VARIANTS.items():
        if all(getattr(cfg.patches, k) == v for k, v in values.items()):
            return name
    return None


def loss_extremes(rows: list[dict]) -> tuple[dict, dict]:
    """The selection rows with the lowest and the highest final training loss."""
    return min(rows, key=lambda r: r["final_loss"]), max(rows, key=lambda r: r["final_loss"])
