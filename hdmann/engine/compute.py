"""One XLA thread per process, so that a model trained here is the model a one-CPU machine trains.

XLA's CPU backend sizes its thread pool from the CPUs the process may use when the backend starts,
and splits its sums by that pool: the same training on 1 and on 2 CPUs differs in the last bits,
early stopping can then stop at another epoch, and a verdict resting on it can move. Starting the
backend while the process may use one CPU gives a pool of one thread whatever the machine; every
thread is then given back all the CPUs it had, so the operating system still places it freely and
stages still run side by side, one process per core. Measured on a 2-core machine: a training's
weights were identical to the bit to the same training under ``taskset -c 0``, where the default
pool's were not. (Two small trainings side by side took 27 CPU s each against 34 on the default
pool, but a whole cold quick build showed no net saving: this is for the bits, not for speed.)

``HDMANN_XLA_THREADS`` (default 1; ``all`` for XLA's own choice) sets the pool. Its value enters
every stage's cache key (:func:`key_text`): a model computed with another pool is another result.
"""
from __future__ import annotations

import os
import warnings

ENV = "HDMANN_XLA_THREADS"
_started: dict = {}


def xla_threads() -> int | None:
    """The XLA CPU pool this process asks for: a number of threads, or None for XLA's own choice."""
    text = os.environ.get(ENV, "1").strip().lower()
    if text in ("all", "auto", ""):
        return None
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"{ENV}={text!r}: use a whole number of threads (1, the default, computes the same "
                         "bits on any core count) or 'all'") from None
    if n < 1:
        raise ValueError(f"{ENV}={n}: use 1 or more threads, or 'all'")
    return n


def key_text() -> str:
    """What the stage keys record of this setting (read from the environment; JAX is not imported)."""
    n = xla_threads()
    return f"xla-cpu-threads={'all' if n is None else n}"


def start_jax() -> dict:
    """Start JAX's backends on :func:`xla_threads` threads, once per process, before any JAX work.
    Returns what was done (``threads``, ``pinned``), which the stage records keep. Where JAX was
    started before (someone used it first), its pool is left as it is, with a warning."""
    if _started:
        return _started
    import jax
    from jax._src import xla_bridge

    n = xla_threads()
    can_pin = hasattr(os, "sched_setaffinity") and os.path.isdir("/proc/self/task")
    if xla_bridge.backends_are_initialized():
        if n is not None:
            warnings.warn(f"JAX was started before hdmann could give it {n} XLA thread(s): models trained in this "
                          "process may differ in their last bits from those of a machine with another core count. "
                          "Import hdmann's modules before using JAX.", RuntimeWarning, stacklevel=2)
        _started.update(threads=None, pinned=False)
        return _started
    if n is None or not can_pin:
        jax.devices()
        _started.update(threads=None, pinned=False)
        return _started
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, sorted(allowed)[:n])  # this thread only; the threads XLA starts inherit it
    except OSError as exc:  # a sandbox that forbids it: compute, but say the bits may follow the core count
        warnings.warn(f"could not narrow this process to {n} CPU(s) before starting JAX ({exc}): models trained "
                      "here may differ in their last bits from those of a machine with another core count.",
                      RuntimeWarning, stacklevel=2)
        jax.devices()
        _started.update(threads=None, pinned=False)
        return _started
    try:
        jax.devices()
    finally:
        _release(allowed)
    _started.update(threads=min(n, len(allowed)), pinned=True)
    return _started


def _release(allowed: set[int]) -> None:
    """Give every thread of this process (XLA's pool included) all of ``allowed`` again."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), allowed)
        except OSError:  # a thread that ended meanwhile
            pass

