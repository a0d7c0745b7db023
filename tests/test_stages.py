"""The stage graph: provenance keys (both directions), status, read-only rendering, locks,
parallel and Dask runs, and Ctrl-C leaving nothing half-written."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hdmann.book import graph
from hdmann.engine import cache, stages
from stage_toys import ToyConfig, blas_threads, numbers, slow, total

TESTS = Path(__file__).resolve().parent
PRESENTATION = ("studies.study_a.report", "studies.study_b.control_report", "book.report", "methods.plotting",
                "studies.papers", "studies.study_b.report", "studies.study_a_beyond.report",
                "studies.study_a_beyond.figures", "studies.codecs.figures", "studies.study_b.figures",
                "studies.study_b.scores", "studies.study_b.selection", "studies.study_b.wording",
                "studies.study_b.tables", "studies.study_b.values", "studies.study_a.config", "engine.config",
                "studies.study_a_beyond.measures",
                "studies.study_a_beyond.matrix_tables", "studies.study_a_beyond.drift_tables",
                "studies.study_a_beyond.addition_tables", "studies.study_a_beyond.ood_tables",
                "studies.study_a_beyond.colour_tables", "studies.codecs.curves", "studies.codecs.ranking")


def _keys(root) -> list[tuple[str, str]]:
    """(label, key) of every stage of the smoke graph of all migrated chapters."""
    nodes = stages.plan(graph.calls_for([], "smoke", root), root)
    return sorted((n.call.label(), k) for k, n in nodes.items())


def _edit(monkeypatch, module: str) -> None:
    """Simulate an edit of ``module``'s source: its fingerprint changes, nothing else."""
    original = stages.module_fingerprint
    monkeypatch.setattr(stages, "module_fingerprint", lambda m: "edited" if m == module else original(m))


def test_code_closure_is_read_from_imports():
    closure = set(stages.code_closure("studies.study_a.pipeline"))
    assert {"studies.study_a.pipeline", "engine.coding", "engine.codecs", "engine.codec.jpeg", "engine.data",
            "methods.train", "methods.models", "methods.memory", "methods.embedding"} <= closure
    assert not closure & {"studies.study_a.report", "book.report", "methods.plotting", "studies.study_a.config",
                          "engine.config", "engine.cache", "engine.stages", "engine.progress"}
    assert stages.code_closure("studies.study_a.report") == ()  # a report module is no stage's code
    for module in ("studies.study_b.maps", "studies.study_a_beyond.attribution"):  # their saliency stages
        assert {"engine.codecs", "engine.codec.jpeg2000", "methods.saliency"} <= set(stages.code_closure(module))


def test_rewording_a_docstring_or_a_comment_is_no_code_change():
    source = ('"""Module."""\nimport os  # why\n\n\ndef f(x):\n    """What f does."""\n'
              '    return x + len("# kept: a string")  # said twice\n')
    reworded = source.replace("What f does.", "What f does,\n    in other words.").replace("# why", "# because")
    assert stages.code_text(reworded) == stages.code_text(source)
    assert "# kept: a string" in stages.code_text(source) and "said twice" not in stages.code_text(source)
    assert stages.code_text(source.replace("x + len", "x - len")) != stages.code_text(source)
    real = (stages.PACKAGE / "studies" / "study_a" / "pipeline.py").read_text()
    compile(real, "pipeline.py", "exec")
    assert "def train_model(" in stages.code_text(real) and '"""' not in stages.code_text(real)


def test_a_codec_edit_rekeys_every_stage_downstream(synthetic_root, monkeypatch):
    before = dict(_keys(synthetic_root))
    saliency_code = {m: stages.code_fingerprint(m) for m in ("studies.study_b.maps", "studies.study_a_beyond.attribution")}
    _edit(monkeypatch, "engine.codec.jpeg2000")  # one codec's module: the registry imports it by name
    after = dict(_keys(synthetic_root))
    assert before.keys() == after.keys()
    unchanged = [label for label in before if before[label] == after[label]]
    assert unchanged == []  # every stage of today's chapters compresses, or reads a stage that does
    assert any(label.startswith("study_a/model") for label in before)
    for saliency_stage in ("study_b_patches/saliency", "study_a_beyond/saliency"):  # both chapters are in the graph
        assert any(label.startswith(saliency_stage + "[") for label in before), saliency_stage
    for module, code in saliency_code.items():
        assert stages.code_fingerprint(module) != code


@pytest.mark.parametrize("module", PRESENTATION)
def test_a_wording_edit_rekeys_nothing(synthetic_root, monkeypatch, module):
    before = _keys(synthetic_root)
    _edit(monkeypatch, module)
    assert _keys(synthetic_root) == before


def test_an_edit_rekeys_only_its_dependants(synthetic_root, monkeypatch):
    before = dict(_keys(synthetic_root))
    _edit(monkeypatch, "studies.study_a.pipeline")
    after = dict(_keys(synthetic_root))
    moved = {label.split("[")[0] for label in before if before[label] != after[label]}
    readers = {label.split("[")[0] for label in before
               if label.startswith(("study_a_beyond/", "codec_sets/", "rate_accuracy/"))}
    assert readers  # the chapter beyond Study A and the codec chapter import Study A's code
    assert moved == {"study_a/split", "study_a/model", "study_a/predictions", "study_a/tsne", "study_a/input_distortion",
                     "study_a/matched_ladder", "study_a/matched_predictions"} | readers
    assert not any(label.startswith(("study_b/", "study_b_patches/", "survey/")) for label in moved)


def test_keys_chain_through_the_stages_read(synthetic_root):
    from hdmann.studies.study_a import pipeline as study_a
    from hdmann.studies.study_a.config import study_a_config

    cfg = study_a_config("smoke")
    base = {s: getattr(study_a, s).on(cfg).key(synthetic_root) for s in ("split_data", "train_model", "predictions")}
    base["tsne"] = study_a.tsne_maps.on(cfg, "val").key(synthetic_root)
    # a t-SNE setting re-keys the t-SNE only
    other = study_a.tsne_maps.on(cfg.replace(tsne_perplexity=7.0), "val").key(synthetic_root)
    assert other != base["tsne"]
    assert study_a.predictions.on(cfg.replace(tsne_perplexity=7.0)).key(synthetic_root) == base["predictions"]
    # a split setting re-keys the split and everything downstream
    moved = cfg.replace(split_seed=cfg.split_seed + 1)
    for s in ("split_data", "train_model", "predictions"):
        assert getattr(study_a, s).on(moved).key(synthetic_root) != base[s]


def test_keys_are_the_same_in_another_process(synthetic_root):
    script = ("import json, sys; from hdmann.book import graph; from hdmann.engine import stages; root = sys.argv[1]; "
              "print(json.dumps(sorted([n.call.label(), k] for k, n in "
              "stages.plan(graph.calls_for([], 'smoke', root), root).items())))")
    out = subprocess.run([sys.executable, "-c", script, str(synthetic_root)], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert [tuple(x) for x in json.loads(out.stdout.strip().splitlines()[-1])] == _keys(synthetic_root)


def test_run_builds_each_stage_once_and_status_follows(isolated_cache, tmp_path, monkeypatch):
    counter = tmp_path / "counter.txt"
    monkeypatch.setenv("TOY_COUNTER", str(counter))
    cfg = ToyConfig(value=3)
    assert [r["state"] for r in stages.status([total.on(cfg)])] == ["missing"] * 3
    summary = stages.run([total.on(cfg), numbers.on(cfg, "a")], jobs=1, log=lambda *_: None)
    assert summary["stages"] == 3 and summary["built"] == 3
    assert sorted(counter.read_text().split()) == ["a", "bb"]
    assert total(cfg)["total"] == (np.arange(5) * 3 + 1).sum() + (np.arange(5) * 3 + 2).sum()
    assert [r["state"] for r in stages.status([total.on(cfg)])] == ["cached"] * 3
    assert stages.run([total.on(cfg)], jobs=1, log=lambda *_: None)["built"] == 0
    _edit(monkeypatch, "stage_toys")  # the toys' code changed: their entries are stale, not merely missing
    assert [r["state"] for r in stages.status([total.on(cfg)])] == ["stale"] * 3
    assert stages.status([total.on(ToyConfig(value=4))])[0]["state"] == "missing"


def test_an_entry_records_the_host_it_was_built_on_but_its_key_does_not(isolated_cache, monkeypatch):
    cfg = ToyConfig(value=5)
    key = numbers.on(cfg, "a").key()
    stages.run([numbers.on(cfg, "a")], jobs=1, log=lambda *_: None)
    meta = json.loads((numbers.on(cfg, "a").folder() / cache.META).read_text())
    host = meta["_stage"]["host"]
    assert host["cpus"] == len(os.sched_getaffinity(0)) and host["machine"]
    # another CPU count keys the same entry: a cluster of unlike machines shares one cache
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert stages.host_record()["cpus"] == 1 and numbers.on(cfg, "a").key() == key


def test_read_only_mode_names_the_missing_stage_and_its_command(monkeypatch):
    monkeypatch.setenv(stages.READONLY_ENV, "1")
    with pytest.raises(stages.StageMissing, match=r"toy/numbers\[smoke, part='a'\].*hdmann run toy/numbers --profile smoke"):
        numbers(ToyConfig(), "a")
    monkeypatch.setenv(stages.READONLY_ENV, "")
    expected = numbers(ToyConfig(), "a")["x"]
    monkeypatch.setenv(stages.READONLY_ENV, "1")
    np.testing.assert_array_equal(numbers(ToyConfig(), "a")["x"], expected)  # cached entries read fine


def test_a_process_pool_gives_the_serial_results(isolated_cache, tmp_path):
    cfgs = [ToyConfig(value=v) for v in (5, 6)]
    summary = stages.run([total.on(c) for c in cfgs], jobs=2, log=lambda *_: None)
    assert summary["built"] == 6
    pooled = [total(c)["total"] for c in cfgs]
    serial_cache = tmp_path / "serial"
    os.environ["HDMANN_CACHE"] = str(serial_cache)  # restored by the isolated_cache fixture's monkeypatch
    stages.run([total.on(c) for c in cfgs], jobs=1, log=lambda *_: None)
    assert [total(c)["total"] for c in cfgs] == pooled
    assert sorted(p.name for p in serial_cache.glob("toy/*/*")) == sorted(p.name for p in isolated_cache.glob("toy/*/*"))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_stages_progress_lines_reach_the_runners_log_with_its_label(isolated_cache, jobs):
    """Epoch lines of a stage built in a pool worker (or in this process) are relayed, each naming its stage."""
    log = []
    stages.run([total.on(ToyConfig(value=9))], jobs=jobs, log=log.append)
    relayed = [line.strip() for line in log if line.strip().endswith("computed")]
    assert sorted(relayed) == sorted(f"{numbers.on(ToyConfig(value=9), p).label()}: part {p} computed" for p in ("a", "bb"))


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_log_has_one_line_per_finished_stage_and_a_closing_count(isolated_cache, jobs):
    import re

    log = []
    stages.run([total.on(ToyConfig(value=11))], jobs=jobs, log=log.append)
    built = [line for line in log if re.match(r"^  \d+/3 toy/", line)]
    assert len(built) == 3 and sorted(int(line.split("/")[0]) for line in built) == [1, 2, 3], log
    assert not any("building" in line for line in log), "one line per stage, when it is done"
    assert re.match(r"^3 stage\(s\) built in .+ of CPU\), 0 already cached$", log[-1]), log[-1]
    assert numbers.on(ToyConfig(value=11), "x" * 200).short_label().endswith("…]")
    assert len(numbers.on(ToyConfig(value=11), "x" * 200).short_label()) == 90


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_stage_runs_on_one_blas_thread_and_the_caller_keeps_its_own(isolated_cache, jobs):
    """Stages run one per core: a BLAS thread per core inside each made class addition 13x dearer."""
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):
        stages.run([blas_threads.on(ToyConfig(value=jobs))], jobs=jobs, log=lambda *_: None)
        assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {2}
    threads = blas_threads(ToyConfig(value=jobs))["threads"]
    assert threads and set(threads) == {1}


def _python(code: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(TESTS), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_processes_asking_for_one_stage_build_it_once(isolated_cache, tmp_path):
    counter = tmp_path / "counter.txt"
    code = ("import os; os.environ['TOY_SLEEP'] = '0'; from stage_toys import ToyConfig, numbers; "
            "print(int(numbers(ToyConfig(seconds=1.5, value=9), 'a')['x'].sum()))")
    procs = [_python(code, {"TOY_COUNTER": str(counter)}) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert [o.strip().splitlines()[-1] for o in outs] == ["95", "95"]
    assert counter.read_text().split() == ["a"]  # one computed it, the other waited and loaded
    assert not list(isolated_cache.rglob("*.lock"))


def test_stale_parts_are_removed_live_ones_kept(isolated_cache):
    folder = isolated_cache / "toy" / "slow"
    folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (folder / f".k1.{cache.HOST}.{dead.stdout.strip()}.abc.part").mkdir()  # its writer is gone
    (folder / ".k2.xyz.part").mkdir()  # an older layout, no lock: older than this run
    (folder / f".k3.{cache.HOST}.{os.getpid()}.def.part").mkdir()  # a live writer (this process)
    time.sleep(0.05)
    assert cache.clean_stale_parts(started=time.time()) == 2
    assert [p.name for p in folder.iterdir()] == [f".k3.{cache.HOST}.{os.getpid()}.def.part"]


def test_a_lock_of_a_dead_writer_is_taken_over(isolated_cache):
    cfg = ToyConfig(value=11)
    key = numbers.on(cfg, "a").key()
    lock = isolated_cache / "toy" / "numbers" / (key + cache.LOCK_SUFFIX)
    lock.parent.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(json.dumps({"host": cache.HOST, "pid": int(dead.stdout), "since": 0}))
    assert int(numbers(cfg, "a")["x"].sum()) == 11 * 10 + 5
    assert not lock.exists()


@pytest.mark.parametrize("jobs, sig", [(1, signal.SIGINT), (2, signal.SIGINT), (2, signal.SIGTERM)])
def test_ctrl_c_stops_a_run_quickly_and_leaves_nothing_half_written(isolated_cache, tmp_path, jobs, sig):
    """Ctrl-C, and SIGTERM as `hdmann run`/`book` treat it (cli.interrupt_on_sigterm): the workers
    stop too, nothing half-written stays, and a rerun resumes."""
    started = tmp_path / "started.txt"
    # a runner started in the background by a non-interactive shell (as CI may start the tests)
    # inherits SIGINT ignored; a terminal's runner has Python's handler, which this restores
    code = ("import signal, sys; from hdmann.book import cli; from hdmann.engine import stages; from stage_toys import ToyConfig, slow\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "cli.interrupt_on_sigterm()\n"
            "try:\n"
            f"    stages.run([slow.on(ToyConfig(value=v)) for v in range({jobs})], jobs={jobs})\n"
            "except KeyboardInterrupt:\n"
            "    sys.exit(130)\n")
    proc = _python(code, {"TOY_SLEEP": "120", "TOY_STARTED": str(started)})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(started.read_text().split() if started.exists() else []) < jobs:
        time.sleep(0.2)
    assert started.exists(), proc.communicate()[0] if proc.poll() is not None else "the stage never started"
    assert list(isolated_cache.rglob(f"*{cache.PART_SUFFIX}"))  # mid-stage: a half-written entry exists
    t0 = time.monotonic()
    proc.send_signal(sig)  # to the runner only, as a test can (a terminal's Ctrl-C signals its workers too)
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 130, out
    assert time.monotonic() - t0 < 10
    for pid in map(int, started.read_text().split()):  # the workers are gone too
        assert not cache._alive(pid) or pid == os.getpid()
    assert not list(isolated_cache.rglob(f"*{cache.PART_SUFFIX}")), out
    assert not list(isolated_cache.rglob(f"*{cache.LOCK_SUFFIX}"))
    rerun = _python(code, {"TOY_SLEEP": "0"})
    out = rerun.communicate(timeout=120)[0]
    assert rerun.returncode == 0, out
    assert [r["state"] for r in stages.status([slow.on(ToyConfig(value=v)) for v in range(jobs)])] == ["cached"] * jobs


@pytest.mark.slow
def test_a_dask_cluster_builds_the_local_keys_and_numbers(tmp_path, monkeypatch):
    """Two Dask worker processes sharing one cache folder build a subgraph (Study A's split in both
    orders, its model and predictions, the JPEG survey of the codec chapter, a chain of toy stages)
    as the local run does: the workers compute the same keys (the run checks), the entries have the
    same names and numbers, the trained model's outputs included (``train.seeded`` gives Keras's
    default layer seeds a generator the worker's own threads do not draw from)."""
    distributed = pytest.importorskip("distributed")
    from hdmann.studies.foundations import pipeline as codec_survey
    from hdmann.studies.foundations.config import compression_config
    from hdmann.studies.study_a import pipeline as study_a
    from hdmann.studies.study_a.config import study_a_config
    from synthetic import write_isic

    root = tmp_path / "data"
    write_isic(root, train_per_class=10, test_per_class=4, size=32)
    cfg = study_a_config("smoke", image_size=16, source_size=32, per_class_target=12,
                         max_images_per_class=None, max_test_images_per_class=None)
    survey = compression_config("smoke", jpeg_qualities=(50, 10), max_isic_images=6)
    cfg = cfg.replace(max_epochs=2, patience=1, jpeg_qualities=(50, 5))
    calls = [study_a.split_data.on(cfg), study_a.split_data.on(cfg.replace(paper_order=True)),
             study_a.predictions.on(cfg), codec_survey.isic_survey.on(survey, "jpeg"), total.on(ToyConfig(value=7))]
    monkeypatch.setenv("PYTHONPATH", str(TESTS))  # the workers import the toy stages
    results = {}
    for where in ("local", "dask"):
        monkeypatch.setenv("HDMANN_CACHE", str(tmp_path / where))
        if where == "local":
            summary = stages.run(calls, root, jobs=1, log=lambda *_: None)
        else:
            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                          silence_logs=40) as cluster, distributed.Client(cluster) as client:
                summary = stages.run(calls, root, scheduler=client, log=lambda *_: None)
                pids = {info["pid"] for info in summary["workers"].values()}
        assert summary["built"] == 8
        results[where] = {"entries": sorted(p.relative_to(tmp_path / where).as_posix()
                                            for p in (tmp_path / where).glob("*/*/*") if p.is_dir()),
                          "values": [call.compute(root) for call in calls]}
    assert len(pids) == 2 and os.getpid() not in pids  # both workers built stages
    assert results["dask"]["entries"] == results["local"]["entries"]
    for a, b in zip(results["dask"]["values"], results["local"]["values"]):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_a_pool_starts_the_head_of_the_longest_chain_first(synthetic_root):
    """Stages that more stages read, directly or not, are started first (the Study A split before
    an independent survey), so no worker idles at the end behind a long chain."""
    nodes = stages.plan(graph.calls_for(["compression", "study_a_model"], "smoke", synthetic_root), synthetic_root)
    weight = stages.dependants(nodes)
    by_label = {n.call.label(): weight[k] for k, n in nodes.items()}
    split, model = by_label["study_a/split[smoke]"], by_label["study_a/model[smoke]"]
    from hdmann.studies.study_a.config import study_a_config

    seeds = study_a_config("smoke").seeds  # every seed's model and outputs (both ladders) read the split
    assert split >= 3 * seeds and split == max(weight.values())
    assert model == 2  # its outputs on the nominal and on the matched ladder
    assert by_label["study_a/predictions[smoke]"] == 0
    assert by_label["survey/isic[smoke, codec='jpeg']"] == 0


def test_a_plan_keys_each_stage_as_the_stage_keys_itself(synthetic_root):
    """plan() keys each call once and reads each data fingerprint once (memoized: ~0.3 s for the
    quick book instead of ~30 s); the keys must be those a stage computes alone, as a worker does."""
    nodes = stages.plan(graph.calls_for([], "smoke", synthetic_root), synthetic_root)
    assert len(nodes) > 50
    for key, node in nodes.items():
        assert node.call.key(synthetic_root) == key, node.call.label()


def test_hdmann_verdicts_builds_every_seed_of_study_a_and_of_the_matrix():
    from hdmann.book import verdicts
    from hdmann.studies.study_a.config import study_a_config
    from hdmann.studies.study_a_beyond import pipeline as study_a_beyond
    from hdmann.studies.study_a_beyond.config import study_a_beyond_config

    calls = verdicts.stage_calls("quick")
    seeds = study_a_config("quick").seeds
    levels = study_a_beyond.training_levels(study_a_beyond_config("quick"))
    assert sum(c.stage.name == "study_a/predictions" for c in calls) == seeds
    assert sum(c.stage.name == "study_a_beyond/outputs" for c in calls) == seeds * len(levels)
    assert len({c.cfg.train_seed for c in calls if c.stage.name == "study_a/predictions"}) == seeds
    # and what Study A beyond's other verdicts probe, on every seed's Study A model; nothing that decides none
    names = [c.stage.name for c in calls]
    for name in ("study_a_beyond/class_addition", "study_a_beyond/saliency"):
        assert names.count(name) == seeds
    assert "study_a_beyond/cross_entropy_model" not in names  # read through everything[cross_entropy]
    assert any(c.stage.name == "study_a_beyond/outputs_on_every_set" and c.kwargs["which"] == "cross_entropy" for c in calls)
    # Study A's drop claim names the colour-only baseline beside it; the matched ladder decides every claim again
    assert names.count("study_a_beyond/colour_baseline") == 1
    assert names.count("study_a/matched_predictions") == seeds
    # every study that declares claims is in it
    assert {"study_b_patches/run", "rate_accuracy/study_a"} <= set(names)


# ------------------------------------------------------------------ content-keyed data (issue 33)
def _downstream(nodes: dict, start: set[str]) -> set[str]:
    """Keys of ``start`` and of every stage that reads one of them, directly or not."""
    out, grew = set(start), True
    while grew:
        grew = False
        for key, node in nodes.items():
            if key not in out and out & set(node.reads):
                out.add(key)
                grew = True
    return out


def _plan(root) -> dict:
    return stages.plan(graph.calls_for([], "smoke", root), root)


def test_moving_one_circle_rekeys_the_plan_and_what_follows_it_and_nothing_else(synthetic_root):
    from synthetic import read_csv, write_csv

    before = _plan(synthetic_root)
    path = synthetic_root / "mias" / "labels.csv"
    rows, columns = read_csv(path)
    row = next(r for r in rows if r["x"])
    row["x"], row["radius"] = str(int(row["x"]) + 9), str(int(row["radius"]) - 1)  # mdb012: x 471 r 40 -> x 917 r 20, in small
    write_csv(path, rows, columns)
    after = _plan(synthetic_root)
    by_label = lambda nodes: {n.call.label(): k for k, n in nodes.items()}  # noqa: E731
    old, new = by_label(before), by_label(after)
    assert old.keys() == new.keys()
    moved = {label for label in old if old[label] != new[label]}
    plans = {k for k, n in before.items() if n.call.stage.name == "study_b_patches/plan"}
    expected = {before[k].call.label() for k in _downstream(before, plans)}
    assert moved == expected
    assert {label.split("[")[0] for label in moved} >= {"study_b_patches/plan", "study_b_patches/set", "study_b_patches/run",
                                                        "codec_sets/film", "rate_accuracy/study_b"}
    assert not any(label.startswith(("study_b/", "study_a", "survey/", "codec_sets/isic")) for label in moved)


def test_an_image_rewritten_at_the_same_size_rekeys_the_stages_that_read_it(synthetic_root):
    before = _plan(synthetic_root)
    image = sorted((synthetic_root / "isic4" / "train" / "nevus").iterdir())[0]
    blob, stat = bytearray(image.read_bytes()), image.stat()
    blob[len(blob) // 2] ^= 0xFF
    image.write_bytes(bytes(blob))
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with its old modification time
    assert image.stat().st_size == stat.st_size
    after = _plan(synthetic_root)
    moved = {n.call.label() for k, n in before.items() if k not in after}
    readers = {k for k, n in before.items() if str(image) in stages.allowed_reads(n.call, synthetic_root)[1]}
    assert readers and moved == {before[k].call.label() for k in _downstream(before, readers)}
    assert any(label.startswith("study_a/split[") for label in moved)
    assert not any(label.startswith(("study_b/", "study_b_patches/")) for label in moved)


def test_a_data_edit_re_executes_the_chapters_that_read_it(synthetic_root):
    """The executed notebook's key (runner.run_context) hashes the content of the files a chapter's
    datasets hold, the MIAS tables included."""
    from hdmann.book import registry, runner
    from synthetic import read_csv, write_csv

    def contexts():
        return {name: runner.run_context(synthetic_root, registry.chapter(name).datasets)
                for name in ("study_a_model", "study_b_patches")}

    before = contexts()
    path = synthetic_root / "mias" / "labels.csv"
    rows, columns = read_csv(path)
    next(r for r in rows if r["x"])["radius"] = "9"
    write_csv(path, rows, columns)
    after = contexts()
    assert after["study_a_model"] == before["study_a_model"] and after["study_b_patches"] != before["study_b_patches"]


def test_data_digests_are_remembered_so_a_warm_plan_reads_no_file(synthetic_root, isolated_cache, monkeypatch):
    from hdmann.engine import digests

    digests._INDEX.clear()
    calls = []
    real = digests.sha256_file
    monkeypatch.setattr(digests, "sha256_file", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(digests, "RACY_S", 0.0)  # the synthetic files were written a moment ago
    first = _plan(synthetic_root)
    assert len(calls) > 50  # every image, film and table of the synthetic root
    index = isolated_cache / "datahash" / "index.json"
    assert index.is_file() and len(json.loads(index.read_text())) == len(set(calls))
    calls.clear()
    digests._INDEX.clear()  # a new process: the index is read from the cache folder
    assert _plan(synthetic_root).keys() == first.keys() and calls == []
    assert not [p for p in index.parent.iterdir() if p.name.endswith(".part")]


def test_a_file_changed_just_after_it_was_hashed_is_hashed_again(tmp_path, isolated_cache):
    from hdmann.engine import digests

    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n")
    first = digests.file_digests([path])[str(path)]
    path.write_text("a,b\n1,3\n")  # same size, same second: racily clean, so it was not remembered
    assert digests.file_digests([path])[str(path)] != first


def test_status_says_which_file_changed(synthetic_root, capsys):
    from hdmann.book import cli
    from hdmann.studies.study_b import pipeline as patches
    from hdmann.studies.study_b.config import study_b_config
    from synthetic import read_csv, write_csv

    cfg = study_b_config("smoke")
    stages.run([patches.plan.on(cfg)], synthetic_root, jobs=1, log=lambda *_: None)
    path = synthetic_root / "mias" / "labels.csv"
    rows, columns = read_csv(path)
    next(r for r in rows if r["x"])["radius"] = "7"
    write_csv(path, rows, columns)
    (row,) = [r for r in stages.status([patches.plan.on(cfg)], synthetic_root)]
    assert row["state"] == "stale" and row["why"] == "data: mias/labels.csv changed", row
    assert cli.main(["status", "study_b_patches/plan", "--profile", "smoke", "--data-root", str(synthetic_root)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"stale +\w+  study_b_patches/plan\[smoke\]  \(data: mias/labels\.csv changed\)", out), out


# ------------------------------------------------------------------- what a stage body may read
def test_an_undeclared_config_read_is_caught_naming_the_stage_and_the_field(monkeypatch):
    from hdmann.engine.reads import UndeclaredRead
    from stage_toys import SneakyConfig, sneaky, swallows

    with pytest.raises(UndeclaredRead, match=r"stage toy/sneaky\[smoke\] reads SneakyConfig\.secret \(= 0\)"):
        sneaky(SneakyConfig())
    with pytest.raises(UndeclaredRead, match=r"stage toy/swallows\[smoke\] reads SneakyConfig\.secret"):
        swallows(SneakyConfig())  # caught by the body: the stage fails all the same
    assert not sneaky.on(SneakyConfig()).folder().exists()
    monkeypatch.setenv("HDMANN_STRICT", "0")  # unchecked (a quick or paper build): it runs
    assert sneaky(SneakyConfig(value=2, secret=5))["x"].tolist() == [5, 6]


def test_an_undeclared_data_read_is_caught_naming_the_file(tmp_path, monkeypatch):
    from PIL import Image

    from hdmann.engine.reads import UndeclaredRead
    from stage_toys import SneakyConfig, reads_a_file

    image = tmp_path / "film.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(image)
    monkeypatch.setenv("TOY_FILE", str(image))
    with pytest.raises(UndeclaredRead, match=rf"stage toy/file\[smoke\] reads the data file '{re.escape(str(image))}'"):
        reads_a_file(SneakyConfig())


# ------------------------------------------------------------------------ honest logs, clean ends
def _wait_for(path: Path, lines: int, seconds: float = 120) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = path.read_text().split("\n") if path.exists() else []
        found = [line for line in found if line.strip()]
        if len(found) >= lines:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{path} never reached {lines} line(s)")


def test_a_run_names_what_another_process_built_meanwhile(isolated_cache, tmp_path):
    started = tmp_path / "started.txt"
    code = ("from hdmann.engine import stages; from stage_toys import ToyConfig, slow\n"
            "stages.run([slow.on(ToyConfig(value=41))], jobs=1)\n")
    other = _python(code, {"TOY_SLEEP": "4", "TOY_STARTED": str(started)})
    _wait_for(started, 1)  # the other run holds the entry's lock and builds it
    log = []
    summary = stages.run([slow.on(ToyConfig(value=41))], jobs=1, log=log.append)
    assert other.wait(timeout=60) == 0
    assert summary["built"] == 0 and summary["built_elsewhere"] == 1 and summary["times"] == {}
    assert any(re.match(r"^  1/1 toy/slow\[smoke\]: built by another process meanwhile \(waited .+\)$", line)
               for line in log), log
    assert re.match(r"^0 stage\(s\) built in .+ of CPU\), 1 built by another process meanwhile, 0 already cached$", log[-1])


def test_a_worker_killed_outright_is_named_by_the_stage_it_was_building(isolated_cache, tmp_path):
    who = tmp_path / "who.txt"
    code = ("import sys; from hdmann.engine import stages; from stage_toys import ToyConfig, numbers\n"
            "try:\n"
            "    stages.run([numbers.on(ToyConfig(seconds=120, value=5), p) for p in ('first', 'second')], jobs=2)\n"
            "except stages.StageFailed as exc:\n"
            "    print('FAILED:', exc); sys.exit(2)\n")
    proc = _python(code, {"TOY_WHO": str(who)})
    pids = dict(reversed(line.split()) for line in _wait_for(who, 2))
    os.kill(int(pids["second"]), signal.SIGKILL)  # as the kernel's out-of-memory killer does
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 2, out
    failed = out.split("FAILED:", 1)[1]
    assert f"stage toy/numbers[smoke, part='second'] failed: the worker process building it (pid {pids['second']}) " \
           "died (killed by SIGKILL: out of memory, or killed from outside)" in failed, out
    assert "part='first'] failed" not in failed
    for pid in map(int, pids.values()):
        assert not cache._alive(pid)


@pytest.mark.slow
def test_a_lost_dask_worker_and_its_retried_stage_are_logged(isolated_cache, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    who = tmp_path / "who.txt"
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.setenv("TOY_WHO", str(who))
    log = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        import threading

        def kill_the_first_builder():
            pid = int(_wait_for(who, 1)[0].split()[0])
            time.sleep(0.5)
            os.kill(pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_the_first_builder)
        killer.start()
        summary = stages.run([numbers.on(ToyConfig(seconds=6, value=6), p) for p in ("x", "y")], scheduler=client,
                             log=log.append)
        killer.join()
    text = "\n".join(log)
    assert summary["built"] == 2, text
    assert re.search(r"lost Dask worker \S+; the scheduler retries the stage\(s\) it was running: toy/numbers\[smoke, part='[xy]'\]",
                     text), text


def _session(sid: int) -> list[int]:
    """The processes of session ``sid`` still alive."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_whole_process_group_leaves_no_process(isolated_cache, tmp_path, sig):
    started = tmp_path / "started.txt"
    code = ("import sys; from hdmann.book import cli\n"
            "from hdmann.engine import stages; from stage_toys import ToyConfig, slow\n"
            "cli.interrupt_on_sigterm()\n"
            "try:\n"
            "    stages.run([slow.on(ToyConfig(value=v)) for v in (71, 72)], jobs=2)\n"
            "except KeyboardInterrupt:\n"
            "    sys.exit(130)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(TESTS), "TOY_SLEEP": "120", "TOY_STARTED": str(started)})
    _wait_for(started, 2)
    os.killpg(proc.pid, sig)  # as a terminal's Ctrl-C, or `kill -TERM -PGID`
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 130, out
    deadline = time.monotonic() + 10
    while _session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session(proc.pid) == [], out
    assert not list(isolated_cache.rglob(f"*{cache.PART_SUFFIX}")) and not list(isolated_cache.rglob(f"*{cache.LOCK_SUFFIX}"))
    assert "Traceback" not in out, out


@pytest.mark.slow
def test_timeout_ends_a_run_mid_training_and_leaves_no_process(synthetic_root, isolated_cache, tmp_path):
    """`timeout -s TERM` (as CI's time limit) signals the run and its whole process group while a pool
    worker trains Study A's model: within seconds no process of the run is left, nothing half-written
    stays, and the next run resumes."""
    import shutil
    import threading

    if not shutil.which("setsid") or not shutil.which("timeout"):
        pytest.skip("needs setsid and timeout (util-linux, coreutils)")
    command = [sys.executable, "-m", "hdmann.book.cli", "run", "study_a_model", "--profile", "smoke",
               "--data-root", str(synthetic_root), "--jobs", "2"]
    proc = subprocess.Popen(["setsid", "timeout", "-s", "TERM", "900", *command], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines, training = [], threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if re.match(r"^ +\d+/\d+ study_a/split\[smoke\]: ", line):  # the models start training now
                training.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert training.wait(600), "".join(lines)
    time.sleep(4)  # into the first epochs (JAX starts and compiles in each worker first)
    before = _session(proc.pid)
    assert len(before) >= 3  # timeout, the run, its workers
    os.kill(proc.pid, signal.SIGTERM)  # timeout passes it on to the run and to its process group, as at its limit
    proc.wait(timeout=60)
    deadline = time.monotonic() + 15
    while _session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    reader.join(5)
    out = "".join(lines)
    assert _session(proc.pid) == [], out
    assert "interrupted; finished stages are kept" in out and "Traceback" not in out, out
    assert not list(isolated_cache.rglob(f"*{cache.LOCK_SUFFIX}")), out
    assert cache.clean_stale_parts() == 0  # every half-written entry was removed by its own worker
