"""Every claim the book decides, from every study that declares claims (``CLAIMS`` in its ``__init__``:
the module, under the study's folder, whose ``verdicts(profile, data_root, overrides)`` returns
:class:`hdmann.methods.verdicts.Verdict` records and whose ``stage_calls`` names what they read).

The chapters' verdict tables, the landing page and ``hdmann verdicts`` all read :func:`collect`, so a
claim reads the same wherever it appears. ``hdmann verdicts`` builds only the stages the verdicts
read and writes them in the results.json format, so ``hdmann compare`` says which moved between two
machines (``taskset -c 0 hdmann verdicts ...`` with its own cache beside a plain run; README,
"Verdicts that survive seeds and machines").
"""
from __future__ import annotations

import importlib
from pathlib import Path

from hdmann import studies
from hdmann.book import results
from hdmann.engine import data, provenance, stages
from hdmann.methods import verdicts as vd

CHAPTER = "verdicts"


def claim_modules(names=None) -> dict:
    """``{study: its claims module}`` for the studies (all, or ``names``) that declare claims, in book order."""
    out = {}
    for name in studies.STUDIES:
        module = getattr(studies.study(name), "CLAIMS", None)
        if module and (names is None or name in names):
            out[name] = importlib.import_module(f"hdmann.studies.{name}.{module}")
    return out


def stage_calls(profile: str, overrides: dict | None = None, names=None) -> list[stages.Call]:
    """The stages behind every verdict (of the studies ``names``; default all)."""
    return [c for m in claim_modules(names).values() for c in m.stage_calls(profile, overrides)]


def collect(profile: str, data_root=None, overrides: dict | None = None, names=None) -> dict[str, list]:
    """``{study: its verdicts}``, in book order."""
    return {name: m.verdicts(profile, data_root, overrides) for name, m in claim_modules(names).items()}


def links(names=None) -> dict[str, str]:
    """Claim id -> the label of the verdict section that decides it (each claims module's ``LABEL``)."""
    return {c.id: m.LABEL for m in claim_modules(names).values() for c in m.CLAIMS}


def values(profile: str, data_root=None, overrides: dict | None = None, records: dict | None = None) -> list[dict]:
    """Every verdict as results.json values (outcome, held-out check, untested parts, seeds, effect);
    ``records``: :func:`collect`'s, where the caller has them (the landing page glues these)."""
    records = collect(profile, data_root, overrides) if records is None else records
    return [value for rows in records.values() for value in vd.values(rows, CHAPTER, profile)]


def build(profile: str, data_root=None, out: Path | None = None, *, jobs: int | None = None,
          overrides: dict | None = None, log=print) -> Path:
    """Build the stages behind the verdicts, then write them to ``out`` (results.json format)."""
    root = data.resolve_data_root(data_root)
    stages.run(stage_calls(profile, overrides), root, jobs=jobs, log=log)
    record = {"host": stages.host_record(), "note": "hdmann verdicts: every study's verdicts",
              **provenance.git_state(), "finished": provenance.now()}
    path = Path(out or Path("_build") / "verdicts" / f"{profile}-{record['host']['cpus']}cpu.json")
    results.write(path, profile, record, values(profile, root, overrides), [])
    log(f"hdmann verdicts: {path} ({record['host']['cpus']} CPU(s) available to this process)")
    return path
