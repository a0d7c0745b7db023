"""How far a training seed moves the book's numbers: every number that a seeded model makes, seed by
seed, with its spread. Read from the chapters' own stages (nothing is trained here); the seed mean
of each row is the number its chapter glues or tabulates."""
from __future__ import annotations

import numpy as np

from hdmann.engine import compute, data
from hdmann.methods.words import listing
from hdmann.studies.study_a import report as study_a_report
from hdmann.studies.study_a.config import StudyAConfig
from hdmann.studies.study_a_beyond import report as beyond_report
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_b import report as study_b_report
from hdmann.studies.study_b.config import StudyBConfig

TABLE_COLUMNS = {"chapter": "chapter", "number": "number", "seeds": "seeds", "mean": "seed mean", "sd": "SD",
                 "lowest": "lowest seed", "highest": "highest seed", "range": "range", "values": "each seed's value"}
CHAPTER_TITLES = {"study_a_model": "Study A: the model", "study_a_beyond": "Study A beyond the paper",
                  "study_b_patches": "Study B on patches"}


def seed_values(study_a_cfg: StudyAConfig, beyond_cfg: StudyABeyondConfig, study_b_cfg: StudyBConfig,
                data_root=None) -> list[dict]:
    """Every seed-dependent number, one row each: its chapter, its glue name (or the table cell it
    is), and each seed's own value."""
    with data.memoized():  # every stage read keys its data again: list and fingerprint them once
        return (study_a_report.seed_values(study_a_cfg, data_root) + beyond_report.seed_values(beyond_cfg, data_root)
                + study_b_report.seed_values(study_b_cfg, data_root=data_root))


def spread(row: dict) -> dict:
    """The seed mean, the seeds' SD (n - 1; none for one seed), their lowest and highest value and the
    range between them."""
    v = np.asarray(row["values"], dtype=float)
    return {"chapter": row["chapter"], "number": row["number"], "glued": row["glued"], "what": row["what"],
            "seeds": len(v), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
            "lowest": float(v.min()), "highest": float(v.max()), "range": float(np.ptp(v)),
            "values": ", ".join(f"{x:.3f}" for x in v)}


def spread_table(values: list[dict]) -> list[dict]:
    return [spread(r) for r in values]


def summary(rows: list[dict]) -> dict:
    """The page's sentences: how many numbers, the largest range and where, the median SD, and
    the numbers resting on a single seed (no spread measured)."""
    measured = [r for r in rows if r["seeds"] > 1]
    widest = max(measured, key=lambda r: r["range"]) if measured else None
    single = [CHAPTER_TITLES.get(r["chapter"], r["chapter"]) for r in rows if r["seeds"] == 1]
    return {"numbers": len(rows), "measured": len(measured),
            "median_sd": float(np.median([r["sd"] for r in measured])) if measured else float("nan"),
            "widest_range": widest["range"] if widest else float("nan"),
            "widest": f"{widest['what']} ({CHAPTER_TITLES.get(widest['chapter'], widest['chapter'])})" if widest else "none",
            "single_seed": single_wording(single),
            "single_count": len(rows) - len(measured)}


def single_wording(chapters: list[str]) -> str:
    """How many numbers rest on a single seed, and in which chapters, in words ("7, all in Study B on
    patches"; "3 in A and 1 in B"); the table names each."""
    if not chapters:
        return "none, since every seeded number has more than one seed"
    counts = {c: chapters.count(c) for c in dict.fromkeys(chapters)}
    if len(counts) == 1:
        return f"{len(chapters)}, all in {chapters[0]}" if len(chapters) > 1 else f"one, in {chapters[0]}"
    return listing(f"{n} in {c}" for c, n in counts.items())


def page_values(profile: str, values: list[dict]) -> dict:
    """Every value and sentence the seeds page's prose cites, by glue name, from :func:`seed_values`' rows
    (passed in: the page also plots and tables them, and reading them costs every chapter's stages)."""
    found = summary(spread_table(values))
    return {"profile": profile, "machine_words": machine_wording(compute.xla_threads()), "n_numbers": found["numbers"],
            "n_measured": found["measured"], "median_sd": found["median_sd"], "widest_range": found["widest_range"],
            "widest": found["widest"], "single_seed": found["single_seed"]}


def machine_wording(threads: int | None) -> str:
    """What a change of machine does to this build's numbers, from the compute threads each process
    summed on (:func:`hdmann.engine.compute.xla_threads`: a number, or None for one per CPU)."""
    if threads == 1:
        return ("A change of machine does not move these numbers by itself. Every process sums on a single compute "
                "thread, in one fixed order, so a model trained on one CPU or on sixteen is the same to the bit.")
    pool = "as many compute threads as it had CPUs" if threads is None else f"{threads} compute threads"
    return (f"In this build every process summed on {pool}. A machine with another pool splits its sums "
            "differently, so a model trained there may differ in its last digits.")
