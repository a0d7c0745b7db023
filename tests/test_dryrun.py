"""``hdmann run --dry-run``: the plan names every stage and refuses nothing; one model's one step."""
from __future__ import annotations

import json

from hdmann.book import cli, dryrun, graph
from hdmann.engine import stages


def test_paper_plan_names_every_stage_and_refuses_nothing(data_root, capsys):
    record = dryrun.dry_run("paper", data_root, models=False)
    planned = stages.plan(graph.calls_for([], "paper", data_root), data_root)
    assert {r["key"] for r in record["stages"]} == set(planned)
    assert set(record["by_stage"]) == {n.call.stage.name for n in planned.values()}
    assert sum(s["stages"] for s in record["by_stage"].values()) == len(planned)
    assert record["refused"] == [] and record["not_estimated"] == []
    trained = {t["stage"] for t in record["trainings"]}
    assert trained == set(dryrun.TRAININGS) & set(record["by_stage"])  # every training stage of the book estimated
    assert all(t["steps"] == t["epochs"] * t["steps_per_epoch"] * t["fits"] > 0 for t in record["trainings"])
    sizes = {t["model"] for t in record["trainings"]}
    assert any("HD-MANN 180 px D=500" == m for m in sizes) and any("512 px" in m for m in sizes)
    assert cli.main(["run", "--profile", "paper", "--dry-run", "--plan-only", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out
    assert f"{len(planned)} stages planned, nothing built" in out
    for name in record["by_stage"]:
        assert name in out


def test_one_step_of_a_small_model_in_its_own_process(data_root, tmp_path):
    overrides = {"study_a": {"hypervector_dim": 64}}
    record = dryrun.dry_run("smoke", data_root, overrides, targets=["study_a/model"], log=lambda _: None)
    assert len(record["models"]) == 1  # the seeds share one architecture: one check
    m = record["models"][0]
    from hdmann.methods import models
    from hdmann.studies.study_a.config import study_a_config

    cfg = study_a_config("smoke", overrides)
    assert m["params"] == models.hdmann_cnn(cfg).count_params()
    assert m["input"] == [cfg.batch_size, cfg.image_size, cfg.image_size, 3] and m["output"] == [cfg.batch_size, 64]
    assert m["step_s"] > 0 and m["peak_rss_mb"] >= m["rss_before_mb"] > 0
    assert m["steps"] == sum(t["steps"] for t in record["trainings"])
    e = record["estimate"]
    assert e["gpu_hours"] == round(e["cpu_hours_one_xla_thread"] / dryrun.CPU_TO_GPU_SPEEDUP, 1)
    path = dryrun.write_record(record, tmp_path)
    assert json.loads(path.read_text())["models"][0]["params"] == m["params"]
    assert path.name.endswith("-smoke-dry-run.json")
