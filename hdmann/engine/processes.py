"""Processes that end when they are told to: signals that reach the main thread, workers that die with
their parent. Machinery, not code of any stage (:data:`hdmann.engine.stages.MACHINERY`): editing it
re-keys nothing."""
from __future__ import annotations

import ctypes
import signal
import sys

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
