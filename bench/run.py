"""Speed benchmarks with targets: `make bench` (or `python bench/run.py [--only NAME]`).

Timings are medians of repeats on the real data in $HDMANN_DATA. Each benchmark states its target;
the script prints a table, writes `_build/bench.json`, and exits 1 if a target is missed, so a
slowdown is seen here rather than in a timed test.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import hdmann  # noqa: F401
from hdmann.engine import coding, data, quality

PROJECT = Path(__file__).resolve().parent.parent


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_jpeg_isic(root):
    """JPEG q10 encode + decode + PSNR + SSIM of one stored 180x180 ISIC image."""
    image = data.read_image(data.list_isic("train", root)[0][0], "RGB")
    return _median_seconds(lambda: coding.compress(image, "jpeg", 10), 20), 0.05


def bench_jp2_film(root):
    """JPEG 2000 at 100:1 of one 1024x1024 film, with metrics (study B's unit of work)."""
    mias = data.load_mias(root)
    film = data.read_image(mias.path(mias.names[0]), "L")
    return _median_seconds(lambda: coding.compress(film, "jpeg2000", 100), 5), 0.5


def bench_ssim_film(root):
    """SSIM of two 1024x1024 grey films (the costliest metric)."""
    mias = data.load_mias(root)
    a = data.read_image(mias.path(mias.names[0]), "L")
    b = data.read_image(mias.path(mias.names[1]), "L")
    return _median_seconds(lambda: quality.ssim(a, b), 5), 0.25


def bench_train_step_quick(root):
    """One Table I train step (batch 32) at the quick profile's input size, after compilation."""
    import keras

    from hdmann.methods import models
    from hdmann.studies.study_a.config import study_a_config

    cfg = study_a_config("quick")
    model = models.hdmann_cnn(cfg)
    model.compile(optimizer=keras.optimizers.AdamW(cfg.learning_rate), loss="mse")
    x = np.random.default_rng(0).integers(0, 256, (32 * 6, cfg.image_size, cfg.image_size, 3), dtype=np.uint8)
    y = np.random.default_rng(1).random((len(x), cfg.hypervector_dim), dtype=np.float32)
    model.fit(x[:32], y[:32], batch_size=32, epochs=1, verbose=0)  # compile
    return _median_seconds(lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0), 3) / 6, 0.6


def bench_rebuild_smoke(root):
    """A second `hdmann book --profile smoke` with nothing changed (the first run is not timed)."""
    from hdmann.book import runner as book

    out = Path(tempfile.mkdtemp(prefix="hdmann-bench-"))
    book.build("smoke", root, out=out, log=lambda _: None)
    return _median_seconds(lambda: book.build("smoke", root, out=out, log=lambda _: None), 2), 60.0


def bench_patch_chapter_quick_cold(root):
    """The Study B patch chapter, quick, cold: its stages (plan, sets, CNN and ResNet18 runs, CNN
    selection, features, saliency, sliding maps) and its notebook. Target 20 min on 2 cores (issue 7)."""
    return _cold_book(root, ("study_b_patches",), 20 * 60.0)


def bench_study_a_beyond_quick_cold(root):
    """The chapter "Study A beyond the paper", quick, cold except for Study A's models (built first,
    untimed: the Study A chapters train and share them). Target 20 min on 2 cores (issue 10)."""
    return _cold_book(root, ("study_a_beyond",), 20 * 60.0, warm=("study_a/model",))


# The chapters of the first book (issue 8: cold in <= 20 minutes on 2 cores); the book adds three more.
FIRST_CHAPTERS = ("data", "compression", "study_a_model", "study_a_representations", "study_b_control")
RECORDS = PROJECT / "bench" / "records"  # committed timings files of measured cold builds (see README there)


def stage_cpu_by_chapter(record: dict, profile: str = "quick") -> dict[str, float]:
    """The CPU seconds of a build's stages (``_build/timings/<profile>.json``) per chapter, each stage
    counted once, for the first chapter (in book order) whose graph reads it."""
    from hdmann.book import graph, registry
    from hdmann.engine import stages

    owner = {}
    for chapter in registry.chapter_names():
        for node in stages.plan(graph.chapter_stages()[chapter](profile)).values():
            owner.setdefault(node.call.label(), chapter)
    out: dict[str, float] = {}
    for label, s in record["stages"].items():
        chapter = owner.get(label, "other")
        out[chapter] = round(out.get(chapter, 0.0) + (s["cpu"] or 0.0), 1)
    return out


def _cold_book(root, chapters, target: float, warm=()):
    """``hdmann book --profile quick`` in a child process (as a user runs it) from an empty cache and
    output folder; prints the build's per-stage and per-chapter times (``_build/timings``) and keeps
    them in ``_build/bench-timings-<chapters>.json``. ``warm``: stages (or chapters) another chapter
    owns, built first with ``hdmann run`` and not timed."""
    import os
    import shutil
    import subprocess

    out = Path(tempfile.mkdtemp(prefix="hdmann-bench-"))
    env = {**os.environ, "HDMANN_CACHE": str(out / "_cache"), "HDMANN_DATA": str(root)}
    if warm:
        subprocess.run([sys.executable, "-m", "hdmann.book.cli", "run", *warm, "--profile", "quick"], env=env, check=True)
    cmd = [sys.executable, "-m", "hdmann.book.cli", "book", "--profile", "quick", "--out", str(out)]
    if chapters:
        cmd += ["--chapters", ",".join(chapters)]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=False)
    seconds = time.perf_counter() - start
    timings = out / "_build" / "timings" / "quick.json"
    if not timings.is_file():
        raise RuntimeError(f"the build wrote no timings ({timings}): it failed before its chapters ran")
    record = json.loads(timings.read_text())
    for label, s in sorted(record["stages"].items(), key=lambda kv: -kv[1]["wall"]):
        print(f"  stage   {s['wall']:8.1f} s wall {s['cpu'] or 0:8.1f} s CPU  {label}")
    for name, s in record["chapters"].items():
        print(f"  chapter {s['wall']:8.1f} s wall {s['cpu']:8.1f} s CPU  {name}")
    for name, cpu in stage_cpu_by_chapter(record).items():
        print(f"  stages of {name}: {cpu:8.1f} s CPU (a stage counts for the first chapter that reads it)")
    print(f"  {record['wall_seconds']:.0f} s wall, {record['cpu_seconds']:.0f} s CPU, load {record['load_average_end']}")
    kept = PROJECT / "_build" / f"bench-timings-{'-'.join(chapters) or 'book'}.json"
    kept.parent.mkdir(exist_ok=True)
    shutil.copy2(timings, kept)
    return seconds, target


def bench_first_chapters_quick_cold(root):
    """The first book's five chapters, quick, cold (issue 8's target: <= 20 minutes on 2 cores)."""
    return _cold_book(root, FIRST_CHAPTERS, 20 * 60.0)


def bench_book_quick_cold(root):
    """The whole quick book, cold (target: <= 60 minutes on 2 cores)."""
    return _cold_book(root, (), 60 * 60.0)


BENCHMARKS = {name[6:]: fn for name, fn in globals().items() if name.startswith("bench_")}

OPT_IN = {"patch_chapter_quick_cold", "study_a_beyond_quick_cold", "first_chapters_quick_cold",
          "book_quick_cold"}  # long (cold builds): run with --only


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args(argv)
    root = data.resolve_data_root(args.data_root)
    results, missed = [], 0
    for name in args.only or [n for n in BENCHMARKS if n not in OPT_IN]:
        seconds, target = BENCHMARKS[name](root)
        ok = seconds <= target
        missed += not ok
        results.append({"benchmark": name, "seconds": seconds, "target_seconds": target, "ok": ok})
        print(f"{name:22s} {seconds:9.4f} s   target <= {target:g} s   {'ok' if ok else 'MISSED'}", flush=True)
    out = PROJECT / "_build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
