"""A parallel map over forked worker processes, for the engine's image work (decoding, coding)."""
from __future__ import annotations

import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor


def fork_map(fn, jobs: list, workers: int) -> list:
    """``[fn(j) for j in jobs]`` over ``workers`` forked processes (in this process for one worker,
    or inside a daemonic process such as a Dask worker, which may start none).

    Fork, not spawn: spawn re-runs a user's unguarded script in every worker. The workers run only
    Pillow, NumPy and SciPy, never JAX, so JAX's warning about forking does not apply."""
    if workers <= 1 or multiprocessing.current_process().daemon:
        return [fn(j) for j in jobs]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fork.*", category=RuntimeWarning)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
            return list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
