"""Study A beyond the paper: the chapter's report. Tables, intervals and verdicts come from the cached
stages of :mod:`hdmann.studies.study_a_beyond.pipeline`; nothing here trains, and every verdict states its rule in
a ``test`` column. One module per experiment (:mod:`~hdmann.studies.study_a_beyond.matrix_tables`,
:mod:`~hdmann.studies.study_a_beyond.drift_tables`, :mod:`~hdmann.studies.study_a_beyond.addition_tables`,
:mod:`~hdmann.studies.study_a_beyond.ood_tables`, :mod:`~hdmann.studies.study_a_beyond.colour_tables`), gathered
here with each seed's values (:func:`seed_values`) and the values the chapter's prose cites (:func:`chapter_values`).
"""
from __future__ import annotations

from hdmann.methods.words import count, listing
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a_beyond import pipeline as beyond
from hdmann.studies.study_a_beyond.addition_tables import (ADDITION_RULE, BUNDLE_WORDS, DISTANCE_WORDS, _addition_outcome,
                                                           addition_rows, addition_summary, addition_wording, class_words,
                                                           headline_addition_rows, headline_rule, rule_words)
from hdmann.studies.study_a_beyond.colour_tables import colour_display, colour_rows, colour_wording
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.drift_tables import (DEPART_RULE, MEASURE_WORDS, METHOD_WORDS, REFERENCE, agreed_departure,
                                                        departure_display, departure_wording, departures, drift_rows,
                                                        first_departure, measure_words, saliency_rows)
from hdmann.studies.study_a_beyond.matrix_tables import (DIMENSION_COLUMNS, HELD_OUT_RULE, MATRIX_RULE, _gain_and_change,
                                                         _references, _seed_hits, dimension_rows,
                                                         dims_budget_wording, leave_out_budget_wording, matrix,
                                                         matrix_rows, matrix_verdict_columns, matrix_verdicts,
                                                         mixed_row_wording)
from hdmann.studies.study_a_beyond.measures import PART, _hits, wilson
from hdmann.studies.study_a_beyond.ood_tables import (MODELS, SOFTMAX_COLUMNS, _ood_point, _tasks, nearest_key_distance,
                                                      ood_display, ood_rows, ood_score, selective_curves,
                                                      softmax_confidence, softmax_wording, task_words)

__all__ = ["ADDITION_RULE", "BUNDLE_WORDS", "DEPART_RULE", "DIMENSION_COLUMNS", "DISTANCE_WORDS", "HELD_OUT_RULE",
           "MATRIX_RULE", "MEASURE_WORDS", "METHOD_WORDS", "MODELS", "PART", "REFERENCE", "SOFTMAX_COLUMNS",
           "_addition_outcome", "_hits", "_tasks", "addition_rows", "addition_summary", "addition_wording",
           "agreed_departure", "chapter_values", "class_words", "colour_display", "colour_rows", "colour_wording",
           "departure_display", "departure_wording", "departures", "dimension_rows", "dims_budget_wording", "drift_rows",
           "first_departure", "headline_addition_rows", "headline_rule", "leave_out_budget_wording", "matrix",
           "matrix_rows", "matrix_verdict_columns", "matrix_verdicts", "measure_words", "mixed_row_wording",
           "nearest_key_distance", "ood_display", "ood_rows", "ood_score", "ood_task_name", "rule_words",
           "saliency_rows", "seed_values", "selective_curves", "softmax_confidence", "softmax_wording", "task_words",
           "wilson"]


def seed_values(bcfg: StudyABeyondConfig, data_root=None, part: str = PART) -> list[dict]:
    """Each training seed's own value of the train x test matrix's cells and of the gains and changes
    the chapter glues (``gain_*``, ``change_*``, ``study_a_original``), whose seed mean they make; and,
    not glued, each seed's out-of-distribution AUROCs and added-class recalls, which the verdicts test
    seed by seed (the chapter's tables give the first seed's)."""
    rows = []
    for train_level in beyond.training_levels(bcfg):
        for level in study_a.levels(bcfg.study_a):
            glued = (train_level, level) == ("original", "original")
            rows.append({"chapter": "study_a_beyond", "number": "study_a_original" if glued else
                         f"matrix cell: trained at {train_level}, tested at {level}", "glued": glued,
                         "what": f"accuracy, trained at {train_level}, tested at {level}",
                         "values": _seed_hits(bcfg, train_level, level, data_root, part).mean(axis=1).tolist()})
    probes = beyond.probe_seed_configs(bcfg)
    for task in [t for t in _tasks(bcfg) if not t.startswith("compressed")]:
        rows.append({"chapter": "study_a_beyond", "number": f"OOD AUROC, {task}", "glued": False,
                     "what": f"out-of-distribution AUROC of the distance to the nearest key, {task} (the chapter's "
                             "table: the first seed's)", "values": [_ood_point(b, task, data_root) for b in probes]})
    rule = headline_rule(bcfg)
    for cls in bcfg.new_classes:
        rows.append({"chapter": "study_a_beyond", "number": f"added-class recall, {cls}", "glued": False,
                     "what": f"recall of {cls} added as a fifth key ({rule}, all support images; the chapter's table: "
                             "the first seed's)",
                     "values": [next(r["new_accuracy"] for r in headline_addition_rows(b, data_root) if r["class"] == cls)
                                for b in probes]})
    low_ref, orig_ref = _references(bcfg, data_root, part)
    for train_level in beyond.training_levels(bcfg):
        if train_level == "original":
            continue
        gain, change = _gain_and_change(bcfg, train_level, low_ref, orig_ref, data_root, part)
        rows.append({"chapter": "study_a_beyond", "number": f"gain_{train_level}", "glued": True,
                     "what": f"gain at q<={bcfg.ood_compressed_max_quality} of training at {train_level}",
                     "values": gain.mean(axis=1).tolist()})
        rows.append({"chapter": "study_a_beyond", "number": f"change_{train_level}", "glued": True,
                     "what": f"change on originals of training at {train_level}", "values": change.mean(axis=1).tolist()})
    return rows


def ood_task_name(task: str) -> str:
    """The glue name of an out-of-distribution task ("near: ..." -> "near", "far: BreastMNIST ..." ->
    "far_BreastMNIST"): one identifier per task."""
    return task.split(":")[0] + ("_" + task.split()[1] if task.startswith(("far", "compressed")) else "")


def chapter_values(bcfg: StudyABeyondConfig, data_root=None, seed_ood_rows: list[dict] | None = None) -> dict:
    """Every value and sentence the chapter's prose cites, by glue name, from the tables of this report.
    ``seed_ood_rows``: the out-of-distribution rows over seeds (:func:`hdmann.studies.study_a_beyond.claims.ood_rows`,
    which the page also shows as a table; the claims module reads this one, so it is passed in)."""
    if seed_ood_rows is None:
        raise ValueError("pass claims.ood_rows(cfg, data_root) as seed_ood_rows: the AUROCs over seeds the prose cites")
    a = bcfg.study_a
    epochs, patience = beyond.budget(bcfg)
    dim_epochs, dim_patience = beyond.budget(bcfg, dims_sweep=True)
    mixed = mixed_row_wording(bcfg)
    values = {"profile": bcfg.profile, "budget_epochs": count(epochs, "epoch"), "patience": count(patience, "epoch"),
              "dim_epochs": count(dim_epochs, "epoch"), "dim_patience": count(dim_patience, "epoch"),
              "dims_budget": dims_budget_wording(bcfg), "dims": ", ".join(str(d) for d in bcfg.dims),
              "n_train_levels": len(a.jpeg_qualities) + 1, "image_size": a.image_size,
              "train_levels": listing(beyond.training_levels(bcfg)),
              "leave_out": listing(class_words(c) for c in bcfg.leave_out_classes),
              "leave_out_budget": leave_out_budget_wording(bcfg), "mixed_models": mixed["models"],
              "mixed_state": mixed["state"],
              "saliency_images": "all" if bcfg.saliency_images is None else bcfg.saliency_images,
              "n_seeds": a.seeds, "flat_margin": a.flat_margin, "low_level": f"q{bcfg.ood_compressed_max_quality}",
              "top_share": f"{100 * bcfg.top_share:.0f} %", "draws": bcfg.shot_draws, "thumb": bcfg.thumbnail_size}
    cell = next(r for r in matrix_rows(bcfg, data_root) if (r["train"], r["test"]) == ("original", "original"))
    values.update({"study_a_original": cell["accuracy"], "study_a_original_low": cell["ci_low"],
                   "study_a_original_high": cell["ci_high"]})
    for row in matrix_verdicts(bcfg, data_root):
        values[f"gain_{row['trained at']}"], values[f"change_{row['trained at']}"] = row["gain"], row["change"]
    values["departure_words"] = departure_wording(departures(bcfg, data_root))
    rule, additions = headline_rule(bcfg), addition_rows(bcfg, data_root)
    values.update({"rule_words": rule_words(rule), "addition_words": addition_wording(additions, rule)})
    softmax = {r["task"]: r for r in ood_rows(bcfg, data_root) if r["model"] == MODELS["cross_entropy"]}
    for row in seed_ood_rows:
        task = ood_task_name(row["task"])
        values.update({f"auroc_a_{task}": row["auroc"], f"auroc_a_{task}_low": row["low"],
                       f"auroc_a_{task}_high": row["high"], f"auroc_ce_{task}": softmax[row["task"]]["auroc"],
                       f"diff_{task}": row["difference"], f"diff_{task}_low": row["difference_low"],
                       f"diff_{task}_high": row["difference_high"]})
    values.update({"n_near_in": seed_ood_rows[0]["n_in"], "n_near_out": seed_ood_rows[0]["n_out"],
                   "softmax_check": softmax_wording(softmax_confidence(bcfg, data_root))})
    for row in dimension_rows(bcfg, data_root):
        if row["level"] == "original":
            values[f"dim_acc_{row['dim']}"], values[f"dim_sec_{row['dim']}"] = row["accuracy"], row["cpu_seconds_per_epoch"]
    colour = {r["level"]: r for r in colour_rows(bcfg, data_root)}
    values.update({"colour_original": colour["original"]["colour"], "colour_q1": colour["q1"]["colour"],
                   "acc_val_original": colour["original"]["hdmann_study_a"], "acc_val_q1": colour["q1"]["hdmann_study_a"],
                   "colour_words": colour_wording(list(colour.values()))})
    return values
