"""One XLA thread per process: a stage graph gives the same bits on one CPU and on two, which XLA's
default pool (sized by the CPUs, its sums split by it) does not."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hdmann.engine import compute, stages
from stage_toys import ToyConfig, numbers

TESTS = Path(__file__).resolve().parent

GRAPH = """
import hashlib, os, sys
from pathlib import Path
import numpy as np
from hdmann.engine import stages
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a.config import study_a_config
from synthetic import write_isic

tmp, jobs = Path(sys.argv[1]), int(sys.argv[2])
root = tmp / "data"
if not root.exists():
    write_isic(root, train_per_class=10, test_per_class=4, size=32)
cfg = study_a_config("smoke", image_size=16, source_size=32, per_class_target=12, max_images_per_class=None,
                     max_test_images_per_class=None, max_epochs=2, patience=1, jpeg_qualities=(50, 5))
call = study_a.predictions.on(cfg)
stages.run([call], root, jobs=jobs, log=lambda *_: None)
out = call.compute(root)
print(hashlib.sha256(b"".join(np.asarray(out[k]).tobytes() for k in sorted(out) if k.endswith("_outputs"))).hexdigest())
"""

needs_two_cpus = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2 or shutil.which("taskset") is None,
    reason="needs two CPUs and taskset")


def _outputs_digest(tmp_path, one_cpu: bool, threads: str = "1") -> str:
    """Study A's split, model and predictions (a small graph on synthetic images) built from an empty
    cache in a fresh process: one stage worker per CPU, or in-process under ``taskset`` on one CPU."""
    cache_dir = tmp_path / f"cache-{'one' if one_cpu else 'two'}-{threads}"
    command = [sys.executable, "-c", GRAPH, str(tmp_path), "1" if one_cpu else "2"]
    if one_cpu:
        command = ["taskset", "-c", str(min(os.sched_getaffinity(0))), *command]
    env = {**os.environ, compute.ENV: threads, "HDMANN_CACHE": str(cache_dir), "PYTHONPATH": str(TESTS)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RuntimeWarning" not in done.stderr, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@needs_two_cpus
def test_a_graph_built_on_one_cpu_and_on_two_gives_the_same_bits(tmp_path):
    """The trained model's outputs on every split and level, bit for bit: the verdicts read them."""
    assert _outputs_digest(tmp_path, one_cpu=False) == _outputs_digest(tmp_path, one_cpu=True)


@needs_two_cpus
def test_with_xla_s_default_pool_the_same_graph_gives_other_bits(tmp_path):
    """The control: without the pinned pool the same graph differs, so the test above can fail.
    If this one ever fails, XLA no longer splits by core count and the pin is moot (harmless)."""
    assert _outputs_digest(tmp_path, one_cpu=False, threads="all") != _outputs_digest(tmp_path, one_cpu=True,
                                                                                      threads="all")


def test_the_pool_enters_every_stage_key_and_a_bad_value_says_what_to_use(monkeypatch):
    call = numbers.on(ToyConfig(value=5), "a")
    monkeypatch.delenv(compute.ENV, raising=False)
    default = call.key()
    monkeypatch.setenv(compute.ENV, "1")
    assert call.key() == default and compute.key_text() == "xla-cpu-threads=1"
    monkeypatch.setenv(compute.ENV, "all")
    assert call.key() != default and stages.host_record()["xla"] == "xla-cpu-threads=all"
    for bad in ("two", "0"):
        monkeypatch.setenv(compute.ENV, bad)
        with pytest.raises(ValueError, match=compute.ENV):
            call.key()


def test_a_process_that_may_not_pin_still_computes_and_says_so():
    """A sandbox that forbids changing the CPU affinity: JAX still starts, with a warning naming the risk."""
    import subprocess as sp

    script = ("import os, warnings\n"
              "def refuse(*a): raise PermissionError('not allowed here')\n"
              "os.sched_setaffinity = refuse\n"
              "from hdmann.engine import compute\n"
              "with warnings.catch_warnings(record=True) as caught:\n"
              "    warnings.simplefilter('always')\n"
              "    print(compute.start_jax(), [str(w.message)[:40] for w in caught])\n")
    done = sp.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'pinned': False" in done.stdout and "could not narrow this process" in done.stdout


def test_a_chapter_kernel_computes_on_one_blas_thread():
    """The numbers a chapter computes itself (bootstraps, the pixel baseline's regressions) must not
    follow the core count either: importing the chapters' glue module narrows BLAS to one thread."""
    code = ("import numpy, json; from threadpoolctl import threadpool_info; import hdmann.book.report; "
            "print(json.dumps([i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas']))")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    threads = json.loads(out.strip().splitlines()[-1])
    assert threads and set(threads) == {1}, threads
