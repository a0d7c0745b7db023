"""Tiny stages for the stage-graph tests: a slow one that writes files, and a chain of two."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hdmann.engine import progress
from hdmann.engine.stages import stage


@dataclass(frozen=True)
class ToyConfig:
    UNKEYED = ("seconds",)  # how long a toy sleeps changes no result

    profile: str = "smoke"
    seconds: float = 0.0
    value: int = 1


@stage("toy/slow", params=lambda cfg, data_root: {"value": cfg.value})
def slow(cfg: ToyConfig, data_root=None, *, folder: Path) -> None:
    """Writes a file, says it started (``$TOY_STARTED``), sleeps ``$TOY_SLEEP`` seconds (not part of
    the key, so that a rerun can finish quickly), writes another."""
    (folder / "first.txt").write_text("half")
    started = os.environ.get("TOY_STARTED")
    if started:
        with open(started, "a") as f:
            f.write(f"{os.getpid()}\n")
    who = os.environ.get("TOY_WHO")
    if who:  # which process builds which value
        with open(who, "a") as f:
            f.write(f"{os.getpid()} {cfg.value}\n")
    time.sleep(float(os.environ.get("TOY_SLEEP", "0")))
    (folder / "second.txt").write_text("done")


@stage("toy/numbers", params=lambda cfg, data_root: {"value": cfg.value})
def numbers(cfg: ToyConfig, part: str, data_root=None) -> dict:
    counter = os.environ.get("TOY_COUNTER")
    if counter:  # one line per computation, to count how often a stage ran
        with open(counter, "a") as f:
            f.write(f"{part}\n")
    who = os.environ.get("TOY_WHO")
    if who:  # which process builds which part
        with open(who, "a") as f:
            f.write(f"{os.getpid()} {part}\n")
    time.sleep(cfg.seconds)
    progress.emit(f"part {part} computed")  # as a training stage says each epoch
    return {"x": np.arange(5) * cfg.value + len(part)}


@stage("toy/total", reads=lambda cfg: [numbers.on(cfg, "a"), numbers.on(cfg, "bb")])
def total(cfg: ToyConfig, data_root=None) -> dict:
    return {"total": int(numbers(cfg, "a")["x"].sum() + numbers(cfg, "bb")["x"].sum())}


@stage("toy/blas_threads", params=lambda cfg, data_root: {"value": cfg.value})
def blas_threads(cfg: ToyConfig, data_root=None) -> dict:
    """The BLAS thread counts a stage's body runs with."""
    from threadpoolctl import threadpool_info

    return {"threads": [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]}


@dataclass(frozen=True)
class SneakyConfig:
    profile: str = "smoke"
    value: int = 1
    secret: int = 0  # no stage declares it


@stage("toy/sneaky", params=lambda cfg, data_root: {"value": cfg.value})
def sneaky(cfg: SneakyConfig, data_root=None) -> dict:
    """Reads a field its params do not declare: a checked build refuses it."""
    return {"x": np.arange(cfg.value) + cfg.secret}


@stage("toy/swallows", params=lambda cfg, data_root: {"value": cfg.value})
def swallows(cfg: SneakyConfig, data_root=None) -> dict:
    """Reads an undeclared field and catches what the check raises: the stage still fails."""
    try:
        extra = cfg.secret
    except Exception:  # noqa: BLE001
        extra = 0
    return {"x": np.arange(cfg.value) + extra}


@stage("toy/file", params=lambda cfg, data_root: {"value": cfg.value})
def reads_a_file(cfg: SneakyConfig, data_root=None) -> dict:
    """Reads a data file ($TOY_FILE) that its key does not fingerprint."""
    from hdmann.engine import data

    return {"x": data.read_image(Path(os.environ["TOY_FILE"]), "L")}
