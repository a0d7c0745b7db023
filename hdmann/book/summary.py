"""The landing page's content, computed from the same verdict records every chapter shows: the
abstract's sentences, the claims at a glance, every deviation from the papers, and the headline
figures. Nothing here is typed by hand; every sentence is built from the records."""
from __future__ import annotations

from hdmann.book import verdicts
from hdmann.methods import verdicts as vd
from hdmann.methods.words import listing
from hdmann.studies.codecs import figures as c_figures, report as c_report
from hdmann.studies.study_a import claims as a_claims, figures as a_figures, report as a_report
from hdmann.studies.study_a.config import study_a_config
from hdmann.studies.study_b import figures as b_figures, report as b_report, wording as b_wording
from hdmann.studies.study_b.config import study_b_config

GROUPS = (vd.HOLDS, vd.FAILS, vd.UNDECIDED, vd.NOT_TESTABLE)


def label(claim, tags=()) -> str:
    """"accuracy flat down to q20 (A1, paper's distortion)"; with every condition: no tag."""
    where = f", {listing(tags)}" if tags else ""
    return f"{claim.short or claim.words} ({claim.id}{where})"


def abstract(records: dict[str, list[vd.Verdict]]) -> dict[str, str]:
    """One line per outcome: the claims that reach it (a claim decided on several conditions named
    once, with the conditions that reach it unless all do); for "not testable here", each untested
    part and why, parts that share a reason together."""
    every = [v for rows in records.values() for v in rows]
    conditions = {}
    for v in every:
        conditions.setdefault(v.claim.id, []).append(v.tag)
    lines = {}
    for outcome in GROUPS[:-1]:
        reached = {}
        for v in every:
            if v.outcome == outcome:
                reached.setdefault(v.claim.id, (v.claim, []))[1].append(v.tag)
        terse = outcome == vd.UNDECIDED  # the findings get their words; the undecided are named by id
        items = [(f"{claim.id}" + (f" ({listing([t for t in tags if t])})" if len(tags) < len(conditions[cid]) else "")
                  if terse else label(claim, () if len(tags) == len(conditions[cid]) else [t for t in tags if t]))
                 for cid, (claim, tags) in reached.items()]
        lines[outcome] = listing(items) if items else "none"
    by_reason = {}
    for v in every:
        for p in v.parts:
            if p.outcome == vd.NOT_TESTABLE:
                by_reason.setdefault(p.reason, {}).setdefault(f"{p.name} ({v.claim.id})", None)
    lines[vd.NOT_TESTABLE] = "; ".join(f"{listing(parts)}: {reason}" for reason, parts in by_reason.items()) or "none"
    lines["count"] = str(len(conditions))
    return lines


def page_values(records: dict[str, list[vd.Verdict]], profile: str) -> dict:
    """Every value the landing page's prose cites, by glue name: the abstract's lines, and every verdict
    as results.json lists it (the page glues them so that ``hdmann compare`` reads them); ``records``:
    :func:`hdmann.book.verdicts.collect`'s, which the page also tables."""
    lines = abstract(records)
    values = {"profile": profile, "n_claims": lines["count"]}
    values.update({f"abstract_{key}": lines[outcome] for outcome, key in
                   ((vd.HOLDS, "holds"), (vd.FAILS, "fails"), (vd.UNDECIDED, "undecided"), (vd.NOT_TESTABLE, "untestable"))})
    values.update({value["name"]: value["value"] for value in verdicts.values(profile, records=records)})
    return values


def deviations(profile: str, data_root=None, overrides: dict | None = None, names=None) -> list[dict]:
    """Every study's deviations from its paper (each claims module's ``deviations``, where it has one)."""
    return [row for m in verdicts.claim_modules(names).values() if hasattr(m, "deviations")
            for row in m.deviations(profile, data_root, overrides)]


def input_ladder_table(profile: str, data_root=None, overrides: dict | None = None):
    """Study A's levels at the stored size and at the model's input (:func:`hdmann.studies.study_a.claims.input_ladder_display`)."""
    return a_claims.input_ladder_display(study_a_config(profile, overrides), data_root)


def headline_figures(profile: str, data_root=None, overrides: dict | None = None) -> dict:
    """The landing page's figures: Study A's accuracy on both ladders and Study B's AUROC by ratio."""
    a = study_a_config(profile, overrides)
    ladders = {a_claims.legend(a, arm): a_report.accuracy_table(a, data_root, arm=arm) for arm in a_claims.arms(a)}
    b = study_b_config(profile, overrides)
    ratios = {r["level"]: r["achieved_median"] for r in b_report.ratio_table(b, data_root)}
    series = {b_wording.MODEL_LABELS[m]: (m, b_report.performance(b, m, "a", data_root=data_root))
              for m in ("cnn", "features", "shortcut")}

    return {"study_a": a_figures.two_ladders(ladders, chance=0.25),
            "study_b": b_figures.auroc_vs_level(series, ratios, "trained on originals, tested at each level"),
            "codecs": c_figures.codec_answer(c_report.answer(profile, data_root, overrides))}
