"""A parallel map over forked worker processes, for the engine's image work (decoding, coding)."""
from __future__ import annotations

import ctypes
import multiprocessing
import signal
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (a no-op elsewhere), so a worker
    never outlives the process that started it, even one killed outright."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def wake_main_thread_on(signals=(signal.SIGINT, signal.SIGTERM)) -> None:
    """Make ``signals`` reach their Python handlers at once, whatever thread Linux delivers them to.

    Python runs every signal handler in the main thread, but the kernel may hand a process-directed
    signal (``kill PID``, ``kill -- -PGID``) to any of a process's threads (JAX's, a lock's heartbeat, a
    pool's manager): the main thread, asleep in a wait or a long call, then learns of it only when
    that ends (a 2-minute sleep, a 30-second heartbeat wait, a chapter's whole run). A watcher thread
    reads the interpreter's wakeup file and sends SIGUSR2 to the main thread itself, which interrupts
    its wait, so the pending handler runs. Call it from the main thread once handlers are installed."""
    import os
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_kill"):
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except ValueError:
        os.close(read_end)
        os.close(write_end)
        return
    signal.signal(signal.SIGUSR2, lambda *_: None)  # its only work: interrupting the main thread's wait
    main, wanted = threading.main_thread().ident, {int(s) for s in signals}

    def watch():
        while True:
            try:
                received = os.read(read_end, 64)
            except OSError:
                return
            if not received:
                return
            if wanted & set(received):
                try:
                    signal.pthread_kill(main, signal.SIGUSR2)
                except (ProcessLookupError, OSError):
                    return

    threading.Thread(target=watch, name="hdmann-signal-wakeup", daemon=True).start()


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
