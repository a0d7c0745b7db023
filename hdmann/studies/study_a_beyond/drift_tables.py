"""Study A beyond the paper: how far compression moves the frozen Study A model's outputs and saliency
maps, measured against the change a mirrored image makes, and the quality at which each measure departs."""
from __future__ import annotations

import numpy as np

from hdmann.methods import evaluation
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a_beyond import pipeline as beyond
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.measures import PART, _ci_mean, _memory, _quality


REFERENCE = "flipped"


def drift_rows(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    """Per level and for the mirrored image: RMS distance of the Study A model's output from the same
    image's uncompressed output, and the share of images whose nearest key changes."""
    out = beyond.outputs_on_every_set(bcfg, "study_a", data_root)
    memory = _memory(out["keys"])
    base = out[f"{PART}_original"]
    base_key = memory.predict(base, bcfg.study_a.distance)
    rows = []
    for level in [REFERENCE] + study_a.levels(bcfg.study_a):
        other = out[f"{PART}_{level}"]
        dist = np.sqrt(np.mean((other - base) ** 2, axis=1))
        changed = memory.predict(other, bcfg.study_a.distance) != base_key
        d, d_low, d_high = _ci_mean(bcfg, dist)
        c, c_low, c_high = _ci_mean(bcfg, changed)
        rows.append({"level": level, "quality": None if level == REFERENCE else _quality(level),
                     "rms_distance": d, "rms_low": d_low, "rms_high": d_high,
                     "key_changed": c, "changed_low": c_low, "changed_high": c_high})
    return rows


def saliency_rows(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    sal = beyond.saliency_agreement(bcfg, data_root)
    rows = []
    for method in ("grad_cam", "input_gradients"):
        for level in [REFERENCE] + study_a.levels(bcfg.study_a):
            rank, top = sal[f"{method}_{level}_rank"], sal[f"{method}_{level}_top"]
            r, r_low, r_high = _ci_mean(bcfg, rank)
            t, t_low, t_high = _ci_mean(bcfg, top)
            rows.append({"method": method, "level": level, "quality": None if level == REFERENCE else _quality(level),
                         "rank_corr": r, "rank_low": r_low, "rank_high": r_high,
                         "top_overlap": t, "top_low": t_low, "top_high": t_high,
                         "undefined_rank": int(np.isnan(rank).sum()), "n": int(len(rank))})
    return rows


DEPART_RULE = ("the highest JPEG quality whose 95 % interval lies entirely beyond the value for the mirrored "
               "uncompressed image (a change the model was trained to ignore); '-' if none does")


def departures(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    """The quality at which each measure departs from originals, by :data:`DEPART_RULE`."""
    measures = []
    drift = drift_rows(bcfg, data_root)
    measures.append(("output RMS distance", drift, "rms_distance", "rms_low", "rms_high", +1))
    measures.append(("nearest key changed", drift, "key_changed", "changed_low", "changed_high", +1))
    sal = saliency_rows(bcfg, data_root)
    for method in ("grad_cam", "input_gradients"):
        rows = [r for r in sal if r["method"] == method]
        measures.append((f"{method} rank correlation", rows, "rank_corr", "rank_low", "rank_high", -1))
        measures.append((f"{method} top-{bcfg.top_share:.0%} overlap", rows, "top_overlap", "top_low", "top_high", -1))
    out = []
    for name, rows, value, low, high, sign in measures:
        ref = next(r[value] for r in rows if r["level"] == REFERENCE)
        graded = sorted((r for r in rows if r["level"] not in (REFERENCE, "original")), key=lambda r: -r["quality"])
        beyond_ref = [r for r in graded if (r[low] > ref if sign > 0 else r[high] < ref)]
        out.append({"measure": name, "mirrored reference": ref,
                    "departs at": beyond_ref[0]["level"] if beyond_ref else "-",
                    "worst level value": graded[-1][value] if graded else float("nan")})
    return out


MEASURE_WORDS = {"output RMS distance": "The distance between the two outputs",
                 "nearest key changed": "the share of images whose nearest key changes"}


def departure_wording(rows: list[dict]) -> str:
    """One sentence on where the model's output departs (:func:`departures`'s first two measures), in
    words: "departs at q20", or "does not depart at any level tested" for the table's "-"."""
    said = []
    for row in rows:
        if row["measure"] in MEASURE_WORDS:
            where = f"departs at {row['departs at']}" if row["departs at"] != "-" else "does not depart at any level tested"
            said.append(f"{MEASURE_WORDS[row['measure']]} {where}")
    return "; ".join(said) + "." if said else "No output measure was taken."


def first_departure(dep: list[dict]) -> str | None:
    """The highest quality at which any measure of :func:`departures` departs (None: none does)."""
    named = [d["departs at"] for d in dep if d["departs at"] != "-"]
    return max(named, key=_quality) if named else None


def agreed_departure(per_seed: list[str | None], share: float) -> tuple[int, int]:
    """(quality, seeds needed): the highest JPEG quality by which at least ``share`` of the seeds
    (rounded up) have departed (each seed's :func:`first_departure`); quality 0 if too few ever do."""
    needed = evaluation.seeds_needed(len(per_seed), share)
    ranked = sorted((_quality(q) if q else 0 for q in per_seed), reverse=True)
    return ranked[needed - 1], needed


METHOD_WORDS = {"grad_cam": "Grad-CAM", "input_gradients": "input gradients"}


def measure_words(measure: str) -> str:
    """A measure of :func:`departures` as the page names it ("grad_cam rank correlation" -> "Grad-CAM rank
    correlation")."""
    for code, words in METHOD_WORDS.items():
        measure = measure.replace(code, words)
    return measure


def departure_display(rows: list[dict]) -> list[dict]:
    """:func:`departures` as the page shows it: measures in words, "never" for a measure that does not depart."""
    return [{"measure": measure_words(r["measure"]), "mirrored original": r["mirrored reference"],
             "departs at": r["departs at"] if r["departs at"] != "-" else "never (levels tested)",
             "value at the lowest quality": r["worst level value"]} for r in rows]
