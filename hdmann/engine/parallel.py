"""A parallel map over forked worker processes, for the engine's image work (decoding, coding)."""
from __future__ import annotations

import multiprocessing
import signal
import warnings
from concurrent.futures import ProcessPoolExecutor

from hdmann.engine.processes import die_with_parent


def _coder_init() -> None:
    # a coder holds nothing to clean up: a terminate ends it at once, an interrupt is its parent's to handle
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(signal.SIGKILL)


def fork_map(fn, jobs: list, workers: int) -> list:
    """``[fn(j) for j in jobs]`` over ``workers`` forked processes (in this process for one worker,
    or inside a daemonic process such as a Dask worker, which may start none).

    Fork, not spawn: spawn re-runs a user's unguarded script in every worker. The workers run only
    Pillow, NumPy and SciPy, never JAX, so JAX's warning about forking does not apply. If the map is
    interrupted (Ctrl-C, a terminated stage) its workers are killed at once, and each dies with its
    parent, so none is left behind."""
    if workers <= 1 or multiprocessing.current_process().daemon:
        return [fn(j) for j in jobs]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fork.*", category=RuntimeWarning)
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=_coder_init)
        try:
            results = list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
        except BaseException:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                if process.is_alive():
                    process.kill()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return results
