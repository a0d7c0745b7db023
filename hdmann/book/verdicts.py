"""The verdicts of the Study A chapters, gathered in one results file, to check that they survive
another machine: ``hdmann verdicts`` builds only the stages they read and writes their outcomes
(and the numbers behind them) in the results.json format, so ``hdmann compare`` says which moved.

Every process computes on one XLA thread (``engine.compute``), so a model is the same to the bit
on any number of CPUs of one machine type; what must hold beyond that (another CPU type, another
XLA) is that no verdict moves. ``taskset -c 0 hdmann verdicts ...`` with its own cache beside a
plain run is the check (README, "Reproducing").
"""
from __future__ import annotations

from pathlib import Path

from hdmann.engine import stages
from hdmann.studies.study_a.config import study_a_config
from hdmann.studies.study_a_beyond.config import study_a_beyond_config

CHAPTER = "verdicts"


def stage_calls(profile: str, overrides: dict | None = None) -> list[stages.Call]:
    """The stages behind the verdicts: Study A's models and predictions over its seeds, the train x
    test matrix of Study A beyond over the same seeds, and what its other verdicts probe."""
    from hdmann.studies.study_a import pipeline as study_a
    from hdmann.studies.study_a_beyond import pipeline as study_a_beyond

    cfg = study_a_config(profile, overrides)
    bcfg = study_a_beyond_config(profile, overrides)
    calls = [study_a.predictions.on(c) for c in study_a.seed_configs(cfg)]
    calls += [study_a_beyond.outputs.on(b, *study_a_beyond.model_request(b, level))
              for b in study_a_beyond.seed_configs(bcfg) for level in study_a_beyond.training_levels(b)]
    # the chapter's other verdicts probe each seed's Study A model (drift, saliency, class addition,
    # OOD against the softmax CNN); not the dimension sweep or the colour baseline, which decide none
    calls += [c for c in study_a_beyond.stage_calls(bcfg) if c.stage.name in (
        "study_a_beyond/everything", "study_a_beyond/class_addition", "study_a_beyond/saliency")]
    return calls


def values(profile: str, data_root=None, overrides: dict | None = None) -> list[dict]:
    """Every verdict of the Study A claims, of the train x test matrix and of Study A beyond (decided
    on the reporting half), the test folder's check of each, and the seed counts and pooled effects
    behind them, as results.json values."""
    from hdmann.studies.study_a import report as study_a_report
    from hdmann.studies.study_a_beyond import report as study_a_beyond_report

    cfg = study_a_config(profile, overrides)
    bcfg = study_a_beyond_config(profile, overrides)
    out = []

    def add(name, value):
        kind = "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else "text"
        out.append({"name": name, "chapter": CHAPTER, "profile": profile, "type": kind, "value": value})

    by_part = {part: study_a_report.claims(cfg, data_root, part) for part in ("val", "test")}
    for i, (claim, held) in enumerate(zip(by_part["val"], by_part["test"]), start=1):
        add(f"study_a_claim_{i}_verdict", claim["verdict"])
        add(f"study_a_claim_{i}_test_check", study_a_report.replication(claim["verdict"], held))
        for part, c in (("val", claim), ("test", held)):  # the numbers behind them, which may move
            add(f"study_a_claim_{i}_{part}_seeds", "; ".join(c["seed_outcomes"]))
            add(f"study_a_claim_{i}_{part}_measured", c["measured"])
    matrix = study_a_beyond_report.matrix_verdicts(bcfg, data_root)
    for row in matrix:
        level = row["trained at"]
        add(f"beyond_{level}_gains", row["gains at low quality"])
        add(f"beyond_{level}_no_loss", row["no loss on originals"])
        add(f"beyond_{level}_test_gain_check", row["test folder: gain check"])
        add(f"beyond_{level}_test_no_loss_check", row["test folder: no-loss check"])
        add(f"beyond_{level}_gain", row["gain"])
        add(f"beyond_{level}_change", row["change"])
    for i, row in enumerate(study_a_beyond_report.verdicts(bcfg, data_root, matrix=matrix), start=1):
        add(f"beyond_verdict_{i}", row["verdict"])
        add(f"beyond_verdict_{i}_seeds", row["seeds"])
        add(f"beyond_verdict_{i}_measured", row["measured"])
    for r in study_a_report.accuracy_table(cfg, data_root):
        add(f"study_a_accuracy_{r['split']}_{r['level']}", r["accuracy"])
    return out


def build(profile: str, data_root=None, out: Path | None = None, *, jobs: int | None = None,
          overrides: dict | None = None, log=print) -> Path:
    """Build the stages behind the verdicts, then write them to ``out`` (results.json format)."""
    from hdmann.book import results
    from hdmann.engine import data, provenance

    root = data.resolve_data_root(data_root)
    stages.run(stage_calls(profile, overrides), root, jobs=jobs, log=log)
    record = {"host": stages.host_record(), "note": "hdmann verdicts: the Study A and Study A beyond verdicts only",
              **provenance.git_state(), "finished": provenance.now()}
    path = Path(out or Path("_build") / "verdicts" / f"{profile}-{record['host']['cpus']}cpu.json")
    results.write(path, profile, record, values(profile, root, overrides), [])
    log(f"hdmann verdicts: {path} ({record['host']['cpus']} CPU(s) available to this process)")
    return path
