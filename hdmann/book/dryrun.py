"""``hdmann run --dry-run``: a profile's stages planned, and its distinct models trained for one step
on the CPU, without building anything.

Why: the ``paper`` profile is GPU-sized, and the first GPU run should not be the first time its
stage graph, its input shapes and its memory are met. The plan part keys every stage the book needs
(nothing is built; the cache is only looked at), checks each chapter's data and counts the training
steps each training stage asks for (epochs x steps per epoch x models). The model part builds each
distinct model through the studies' own model builders, trains it for one step on one batch of random
data of the right shape and dtype at the profile's batch size and predicts one batch, each model in
a fresh process so that its peak RSS is its own.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

import numpy as np

from hdmann.book import graph, registry
from hdmann.engine import cache, compute, data, provenance, stages
from hdmann.engine.data import ISIC_CLASSES
from hdmann.methods import models, train
from hdmann.studies.study_a_beyond import pipeline as beyond
from hdmann.studies.study_b import control, pipeline

# One XLA CPU thread (as every stage computes, hdmann.engine.compute) against one datacenter GPU
# (an H100) for these convnets. Their batches are small (16-32) and their layers narrow, so a step is
# bound by kernel launches and memory traffic rather than FLOPs: far below the ~1000x FLOP ratio of the
# two chips. 50x is an assumption at the low end of what such small-batch convnets gain, so the GPU-hour
# estimate errs long; the first GPU run measures the real ratio and replaces it.
CPU_TO_GPU_SPEEDUP = 50.0

RECORDS = Path(__file__).resolve().parents[2] / "bench" / "records"


@dataclasses.dataclass(frozen=True)
class Training:
    """What one training stage asks for: ``fits`` models of one architecture, each trained up to
    ``epochs`` epochs of ``steps_per_epoch`` batches of ``batch_size``."""
    model: str  # the architecture at its size: trainings with the same name share one model check
    input_shape: tuple[int, ...]  # one sample
    input_dtype: str
    loss: str
    batch_size: int
    epochs: int
    steps_per_epoch: int
    fits: int

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch * self.fits


def _steps(n_train: float, batch_size: int) -> int:
    return max(1, math.ceil(n_train / batch_size))


# ------------------------------------------------------------------------- the studies' trainings
# Each training stage, by name: (its config, its arguments, data root) -> (Training, model builder).
# The builders are the studies' own; a stage that trains a model and is missing here is listed by the
# plan as trained but not estimated (:func:`plan`), so a new one is seen.
def _study_a_model(cfg, args, root, dim=None, classes=None, epochs=None, ce=False):
    dim = dim or cfg.hypervector_dim
    cfg = cfg.replace(hypervector_dim=dim)
    n_classes = classes or len(ISIC_CLASSES)
    n_train = round(cfg.per_class_target * (1 - cfg.validation_fraction)) * n_classes  # the augmented part

    def build():
        model = models.hdmann_cnn(cfg)
        if not ce:
            return model
        import keras  # the softmax head study_a_beyond.cross_entropy_model puts on Table I's body

        head = keras.layers.Dense(len(ISIC_CLASSES), activation="softmax", name="softmax")
        return keras.Model(model.inputs, head(model.get_layer("dense").output), name="ce_cnn")

    s = cfg.image_size
    name = f"HD-MANN {s} px " + ("softmax head (4 classes)" if ce else f"D={dim}")
    return Training(name, (s, s, 3), "uint8", "categorical_crossentropy" if ce else "mse", cfg.batch_size,
                    epochs or cfg.max_epochs, _steps(n_train, cfg.batch_size), 1), build


def _beyond_model(bcfg, args, root):
    classes = 3 if args.get("leave_out") else None
    return _study_a_model(bcfg.study_a, args, root, dim=args["dim"], classes=classes, epochs=args["max_epochs"])


def _beyond_ce(bcfg, args, root):
    return _study_a_model(bcfg.study_a, args, root, epochs=beyond.budget(bcfg)[0], ce=True)


def _films_model(cfg, args, root):
    architecture = args.get("architecture", "cnn")
    n_films = len(control.films(cfg, root))
    n_train = n_films * (cfg.n_folds - 1) / cfg.n_folds * (1 - cfg.films.inner_validation_fraction)
    epochs = cfg.films.resnet_max_epochs if architecture == "resnet18" and cfg.films.resnet_max_epochs else cfg.films.max_epochs
    s = cfg.films.input_size
    return (Training(f"whole-film {architecture} {s} px", (s, s, 1), "uint8", "binary_crossentropy",
                     cfg.films.batch_size, epochs, _steps(n_train, cfg.films.batch_size), cfg.n_folds),
            control._build(cfg, architecture))


def _patch_count(cfg, root) -> int:
    """Patches of the plan: its cached entry's count when built, else each located lesion and its
    ``negatives_per_lesion`` negatives (the plan drops lesions too near the edge: an upper bound)."""
    call = pipeline.plan.on(cfg)
    if cache.is_cached(call.folder(root)):
        return len(pipeline.patch_plan(cfg, root))
    mias = control.films(cfg, root)
    lesions = sum(len(v) for v in mias.lesions.values())
    return lesions * (1 + cfg.patches.negatives_per_lesion)


def _patch_training(cfg, root, architecture, epochs, inner: bool):
    n_train = _patch_count(cfg, root) * (cfg.n_folds - 1) / cfg.n_folds
    if inner:
        n_train *= (cfg.n_folds - 1) / cfg.n_folds
    s = cfg.patches.size
    variant = "" if architecture != "cnn" else f" ({cfg.patches.head} head{', batchnorm' if cfg.patches.batchnorm else ''})"
    return (Training(f"patch {architecture} {s} px{variant}", (s, s, 1), "float32", "binary_crossentropy",
                     cfg.patches.batch_size, epochs, train.steps_per_epoch(math.ceil(n_train), cfg.patches.batch_size),
                     cfg.n_folds), pipeline._builder(cfg, architecture))


def _patch_run(cfg, args, root):
    architecture = args.get("architecture", "cnn")
    epochs = cfg.patches.resnet_epochs if architecture == "resnet18" else cfg.patches.epochs
    return _patch_training(cfg, root, architecture, epochs, inner=False)


def _patch_selection(cfg, args, root):
    vcfg = pipeline.variant_config(cfg, args["variant"])
    return _patch_training(vcfg, root, "cnn", vcfg.patches.epochs, inner=True)


TRAININGS: dict[str, Callable] = {
    "study_a/model": lambda cfg, args, root: _study_a_model(cfg, args, root),
    "study_a_beyond/model": _beyond_model,
    "study_a_beyond/cross_entropy_model": _beyond_ce,
    "study_b/run": _films_model,
    "study_b_patches/run": _patch_run,
    "study_b_patches/selection": _patch_selection,
}


def _trains(node: stages.Node) -> bool:
    """Does this stage's own code train a Keras model (``train.fit``/``fit_fixed``/``fit_healthy``, ``model.fit``,
    a ``ReusableModel`` or ``train.Starts``)?"""
    import inspect
    import re

    return re.search(r"\b(train\.fit\w*|model\.fit|ReusableModel|train\.Starts)\(", inspect.getsource(node.call.stage.fn)) is not None


# ------------------------------------------------------------------------------------------ plan
def plan(profile: str, data_root=None, overrides: dict | None = None, targets=()) -> dict:
    """Every stage ``targets`` (default: every chapter) need in ``profile``, keyed and looked up in the
    cache, never built; each chapter's datasets; and each training stage's steps."""
    root = data.resolve_data_root(data_root)
    nodes = stages.plan(graph.calls_for(list(targets), profile, root, overrides), root)
    chapters = {c.name: {"datasets": list(c.datasets), "missing": list(registry.missing_datasets(root, c.datasets))}
                for c in registry.chapters() if c.stages}
    rows, trainings, untrained = [], [], []
    with data.memoized():
        for node in nodes.values():
            name = node.call.stage.name
            rows.append({"stage": name, "key": node.key, "label": node.call.label(), "state": stages.state(node)})
            if name in TRAININGS:
                t, _ = TRAININGS[name](node.call.cfg, node.call.kwargs, root)
                trainings.append({"stage": name, "label": node.call.label(), **dataclasses.asdict(t), "steps": t.steps})
            elif _trains(node):
                untrained.append(node.call.label())
    by_stage: dict[str, dict] = {}
    for r in rows:
        s = by_stage.setdefault(r["stage"], {"stages": 0, "cached": 0, "missing": 0, "stale": 0, "steps": 0})
        s["stages"] += 1
        s[r["state"]] += 1
    for t in trainings:
        by_stage[t["stage"]]["steps"] += t["steps"]
    refused = [c for c, v in chapters.items() if v["missing"]]
    return {"profile": profile, "overrides": overrides or {}, "data_root": root.name, "stages": rows,
            "by_stage": by_stage, "chapters": chapters, "refused": refused, "trainings": trainings,
            "not_estimated": untrained}


# ------------------------------------------------------------------------------------ one step
def distinct_models(planned: dict) -> dict[str, dict]:
    """The first training of each distinct model (by name, input, loss and batch size), with the steps
    every training of it asks for."""
    out: dict[str, dict] = {}
    for t in planned["trainings"]:
        ident = f"{t['model']} batch {t['batch_size']}"
        if ident not in out:
            out[ident] = {"first": t, "steps": 0, "trainings": 0}
        out[ident]["steps"] += t["steps"]
        out[ident]["trainings"] += 1
    return out


def _rss_mb() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def one_step(stage_name: str, cfg, args: dict, data_root) -> dict:
    """Build the model of one training, train it one step on one random batch (after a first,
    compiling step) and predict one batch; in the calling process."""
    import time

    import keras

    compute.start_jax()
    before = _rss_mb()
    t, build = TRAININGS[stage_name](cfg, args, Path(data_root))
    rng = np.random.default_rng(0)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=t.loss)
    shape = (t.batch_size, *t.input_shape)
    x = (rng.integers(0, 256, shape).astype(t.input_dtype) if t.input_dtype == "uint8"
         else rng.uniform(0, 255, shape).astype(t.input_dtype))
    out_shape = (t.batch_size, *model.output_shape[1:])
    y = (np.eye(out_shape[-1], dtype=np.float32)[rng.integers(0, out_shape[-1], t.batch_size)]
         if t.loss == "categorical_crossentropy" else rng.random(out_shape, dtype=np.float32))
    start = time.perf_counter()
    model.train_on_batch(x, y)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    loss = float(np.asarray(model.train_on_batch(x, y)).ravel()[0])
    step_s = time.perf_counter() - start
    model.predict(x, batch_size=t.batch_size, verbose=0)  # compiles the predict function
    start = time.perf_counter()
    predicted = model.predict(x, batch_size=t.batch_size, verbose=0)
    predict_s = time.perf_counter() - start
    if predicted.shape != out_shape or not np.isfinite(loss):
        raise RuntimeError(f"{t.model}: predicted {predicted.shape} (expected {out_shape}), loss {loss}")
    return {"model": t.model, "params": int(model.count_params()), "input": list(shape), "dtype": t.input_dtype,
            "output": list(out_shape), "loss": t.loss, "compile_s": round(compile_s, 2), "step_s": round(step_s, 3),
            "predict_s": round(predict_s, 3), "rss_before_mb": round(before), "peak_rss_mb": round(_rss_mb())}


def _fresh_process(fn, *args):
    """``fn(*args)`` in a new process, so that its RSS high-water mark is its own model's."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def check_models(planned: dict, nodes_by_label: dict, data_root, log=print) -> list[dict]:
    """:func:`one_step` for every distinct model of the plan, each in a fresh process."""
    results = []
    for ident, d in distinct_models(planned).items():
        first = d["first"]
        call = nodes_by_label[first["label"]]
        log(f"  one step: {ident} ({first['label']})")
        r = _fresh_process(one_step, first["stage"], call.cfg, call.kwargs, str(data_root))
        results.append({**r, "batch_size": first["batch_size"], "trainings": d["trainings"], "steps": d["steps"],
                        "cpu_hours": round(d["steps"] * r["step_s"] / 3600, 2)})
    return results


# ---------------------------------------------------------------------------------------- report
def dry_run(profile: str, data_root=None, overrides: dict | None = None, targets=(), models: bool = True,
            log=print) -> dict:
    """The plan and (with ``models``) the one-step check and the compute estimate, as one record."""
    root = data.resolve_data_root(data_root)
    planned = plan(profile, root, overrides, targets)
    record = {"date": dt.date.today().isoformat(), **planned, "models": [], "estimate": None}
    if models:
        calls = {c.label(): c for c in (n.call for n in stages.plan(
            graph.calls_for(list(targets), profile, root, overrides), root).values())}
        record["models"] = check_models(planned, calls, root, log)
        cpu_h = sum(m["cpu_hours"] for m in record["models"])
        record["estimate"] = {"training_steps": sum(m["steps"] for m in record["models"]),
                              "cpu_hours_one_xla_thread": round(cpu_h, 1),
                              "cpu_to_gpu_speedup": CPU_TO_GPU_SPEEDUP,
                              "gpu_hours": round(cpu_h / CPU_TO_GPU_SPEEDUP, 1),
                              "counts": "training steps at every stage's full epoch budget (early stopping only "
                                        "shortens it), no validation, prediction or data preparation"}

    record["provenance"] = {**provenance.git_state(), "device": provenance.device(), "versions": provenance.versions()}
    return record


def table(record: dict) -> str:
    """The record as text for the terminal."""
    lines = [f"Dry run of profile {record['profile']}: {len(record['stages'])} stages planned, nothing built"]
    lines.append(f"  {'stage':40s} {'stages':>6s} {'cached':>6s} {'stale':>6s} {'missing':>7s} {'training steps':>15s}")
    for name, s in record["by_stage"].items():
        steps = f"{s['steps']:,}" if s["steps"] else ""
        lines.append(f"  {name:40s} {s['stages']:6d} {s['cached']:6d} {s['stale']:6d} {s['missing']:7d} {steps:>15s}")
    for chapter, c in record["chapters"].items():
        if c["missing"]:
            lines.append(f"  REFUSED {chapter}: missing {', '.join(c['missing'])}")
    if not record["refused"]:
        lines.append(f"  data: every chapter's datasets present ({len(record['chapters'])} chapters)")
    for label in record["not_estimated"]:
        lines.append(f"  trains a model but has no estimate (add it to hdmann.book.dryrun.TRAININGS): {label}")
    if record["models"]:
        lines.append(f"  {'model':44s} {'batch':>5s} {'params':>12s} {'step s':>8s} {'predict s':>9s} "
                     f"{'peak RSS MB':>11s} {'steps':>11s} {'CPU h':>8s}")
        for m in record["models"]:
            lines.append(f"  {m['model']:44s} {m['batch_size']:5d} {m['params']:12,d} {m['step_s']:8.3f} "
                         f"{m['predict_s']:9.3f} {m['peak_rss_mb']:11,d} {m['steps']:11,d} {m['cpu_hours']:8.2f}")
        e = record["estimate"]
        lines.append(f"  whole profile: {e['training_steps']:,} training steps, {e['cpu_hours_one_xla_thread']:,} CPU "
                     f"hours on one XLA thread here, about {e['gpu_hours']:,} GPU hours at the assumed "
                     f"{e['cpu_to_gpu_speedup']:g}x (hdmann.book.dryrun.CPU_TO_GPU_SPEEDUP); {e['counts']}")
    return "\n".join(lines)


def write_record(record: dict, folder: Path = RECORDS) -> Path:
    path = folder / f"{record['date']}-{record['profile']}-dry-run.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path

