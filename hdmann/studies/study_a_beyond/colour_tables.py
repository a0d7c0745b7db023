"""Study A beyond the paper: a colour-only classifier on tiny thumbnails beside HD-MANN, level by level."""
from __future__ import annotations

from hdmann.methods import evaluation
from hdmann.methods.words import listing
from hdmann.studies.study_a import pipeline as study_a, report as study_a_report
from hdmann.studies.study_a_beyond import pipeline as beyond
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.measures import PART


def colour_rows(bcfg: StudyABeyondConfig, data_root=None) -> list[dict]:
    """Per level: the colour-only classifier (one fit: it has no seed) beside HD-MANN's seed mean,
    each with a 95 % interval (images; seeds and images for HD-MANN), and their paired difference."""
    colour = beyond.colour_baseline(bcfg, data_root)
    a = bcfg.study_a
    rows = []
    for level in study_a.levels(a):
        shortcut = (colour[f"{PART}_{level}"] == colour[f"{PART}_labels"]).astype(float)
        model = study_a_report.hits(a, data_root, PART, level).astype(float)
        row = {"level": level}
        for name, hit in (("colour", shortcut[None]), ("hdmann_study_a", model)):
            acc, low, high = evaluation.seed_image_ci(hit, bcfg.bootstrap_samples, bcfg.bootstrap_seed)
            row.update({name: acc, f"{name}_low": low, f"{name}_high": high})
        d = evaluation.seed_image_ci(model - shortcut[None], bcfg.bootstrap_samples, bcfg.bootstrap_seed)
        row.update({"difference": d[0], "difference_low": d[1], "difference_high": d[2]})
        rows.append(row)
    return rows


def _at(levels: list[str]) -> str:
    return listing("the originals" if lv == "original" else lv for lv in levels)


def colour_wording(rows: list[dict]) -> str:
    """Where HD-MANN stands against colour alone, level by level, by its paired interval: the levels
    at which it is ahead, level with it, or behind (an interval that includes 0 is level)."""
    ahead = [r["level"] for r in rows if r["difference_low"] > 0]
    behind = [r["level"] for r in rows if r["difference_high"] < 0]
    level = [r["level"] for r in rows if r["level"] not in ahead + behind]
    if not rows:
        return "No level has an interval to decide on."

    def where(levels: list[str]) -> str:
        return "at every level" if len(levels) == len(rows) else f"at {_at(levels)}"

    said = [(f"ahead of colour alone {where(ahead)}", "ahead of it") if ahead else None,
            (f"level with colour alone {where(level)}", "level with it") if level else None,
            (f"behind colour alone {where(behind)}", "behind it") if behind else None]
    said = [s for s in said if s]
    first = said[0][0]
    rest = [s[0].replace("colour alone", "it", 1) for s in said[1:]]
    return "HD-MANN is " + "; ".join([first, *rest]) + ", by the paired 95 % interval of their difference."


def colour_display(rows: list[dict]) -> list[dict]:
    """The colour baseline as the page shows it: each accuracy and the paired difference with its interval."""
    def ci(r, name, sign=""):
        return f"{r[name]:{sign}.3f} [{r[name + '_low']:{sign}.3f}, {r[name + '_high']:{sign}.3f}]"
    return [{"level": r["level"], "colour alone (95 % CI)": ci(r, "colour"),
             "HD-MANN, seed mean (95 % CI)": ci(r, "hdmann_study_a"),
             "HD-MANN − colour, paired (95 % CI)": ci(r, "difference", "+")} for r in rows]
