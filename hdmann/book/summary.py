"""The landing page's content, computed from the same verdict records every chapter shows: the
abstract's sentences, the claims at a glance, every deviation from the papers, and the headline
figures. Nothing here is typed by hand; every sentence is built from the records."""
from __future__ import annotations

from hdmann.methods import verdicts as vd
from hdmann.methods.words import listing

GROUPS = (vd.HOLDS, vd.FAILS, vd.UNDECIDED, vd.NOT_TESTABLE)


def label(v: vd.Verdict) -> str:
    """"accuracy flat down to q20 (A1, at the paper's distortion)"."""
    where = f", {v.tag}" if v.tag else ""
    return f"{v.claim.short or v.claim.words} ({v.claim.id}{where})"


def abstract(records: dict[str, list[vd.Verdict]]) -> dict[str, str]:
    """One line per outcome: the claims that reach it; for "not testable here", each part this run
    cannot test (a whole claim, or the untested part of a claim decided on the rest) and why."""
    every = [v for rows in records.values() for v in rows]
    lines = {}
    for outcome in GROUPS[:-1]:
        items = [label(v) for v in every if v.outcome == outcome]
        lines[outcome] = listing(items) if items else "none"
    untested = {}
    for v in every:
        for p in v.parts:
            if p.outcome == vd.NOT_TESTABLE:  # one line per part, however many conditions share it
                untested.setdefault(f"{p.name} ({v.claim.id}): {p.reason}", None)
    lines[vd.NOT_TESTABLE] = "; ".join(untested) if untested else "none"
    lines["count"] = str(len({v.claim.id for v in every}))
    return lines


def deviations(profile: str, data_root=None, overrides: dict | None = None, names=None) -> list[dict]:
    """Every study's deviations from its paper (each claims module's ``deviations``, where it has one)."""
    from hdmann.book import verdicts

    return [row for m in verdicts.claim_modules(names).values() if hasattr(m, "deviations")
            for row in m.deviations(profile, data_root, overrides)]
