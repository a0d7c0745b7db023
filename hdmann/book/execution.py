"""Run one chapter notebook with papermill, quietly and followably.

* The kernel talks to the runner over local IPC sockets (on POSIX) instead of unencrypted TCP, so
  ipykernel has nothing to warn about, and the socket files live in a private temporary folder.
* A papermill engine (``hdmann``) reports each cell's start to :class:`hdmann.engine.progress.Reporter`,
  which relays the kernel's :func:`hdmann.engine.progress.emit` lines (epochs) and prints a heartbeat
  (``cell 12/30 · 3m10s``) while a cell is silent. Nothing of this reaches the executed notebook.
* :func:`run_in_child` runs all that in a child process of its own session, so that Ctrl-C stops
  the build (nbclient in the runner's own process would take SIGINT for itself and carry on): on an
  interrupt the child and its kernel get SIGTERM, then SIGKILL after a few seconds.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

from hdmann.engine import progress

ENGINE = "hdmann"
# jupyter_client interrupts a kernel before asking it to shut down; a kernel still finishing a reply
# then logs this, although nothing was interrupted: not worth a reader's attention
SHUTDOWN_NOISE = ("KeyboardInterrupt caught in kernel",)


def _engine():
    from papermill.engines import NBClientEngine

    class ReportingEngine(NBClientEngine):
        """papermill's nbclient engine, telling ``on_cell(index, total)`` as each cell starts."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            on_cell = kwargs.pop("on_cell", None)
            if on_cell is not None:
                start = nb_man.cell_start

                def cell_start(cell, cell_index=None, **kw):
                    on_cell(cell_index or 0, len(nb_man.nb.cells))
                    return start(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return ReportingEngine


def _register() -> None:
    from papermill.engines import papermill_engines

    if ENGINE not in papermill_engines._engines:
        papermill_engines.register(ENGINE, _engine())


def kernel_config(folder: str):
    """Kernel manager settings: IPC sockets under ``folder`` where the platform has them."""
    from traitlets.config import Config

    if os.name != "posix":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": str(Path(folder) / "kernel")}})


def run_notebook(source: Path, target: Path, parameters: dict, cwd: Path, progress_file: Path,
                 log: Callable[[str], None]) -> None:
    """papermill ``source`` -> ``target`` with ``parameters``; progress lines go to ``log``.
    The caller sets the kernel's environment (the kernel inherits this process's)."""
    import papermill

    _register()
    previous = os.environ.get(progress.ENV)
    os.environ[progress.ENV] = str(progress_file)
    try:
        with tempfile.TemporaryDirectory(prefix="hdmann-kernel-") as sockets, \
                progress.Reporter(progress_file, log) as reporter:
            papermill.execute_notebook(str(source), str(target), parameters=parameters, cwd=str(cwd),
                                       kernel_name="python3", progress_bar=False, engine_name=ENGINE,
                                       on_cell=reporter.cell, config=kernel_config(sockets))
    finally:
        if previous is None:
            os.environ.pop(progress.ENV, None)
        else:
            os.environ[progress.ENV] = previous


_RUNNING: set[subprocess.Popen] = set()  # chapter children now running (the book runs several at once)
_LOCK = threading.Lock()


def _stop(child: subprocess.Popen) -> None:
    """SIGTERM to the child's session (it and its kernel), then SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            break
        try:
            child.wait(grace)
            break
        except subprocess.TimeoutExpired:
            continue


def stop_all() -> None:
    """Stop every running chapter child: the interrupt reached the runner's main thread while other
    threads waited on chapters. Each of those threads then raises KeyboardInterrupt."""
    with _LOCK:
        children = list(_RUNNING)
    for child in children:
        child.hdmann_stopped = True
        _stop(child)


def _wait_with_cpu(child: subprocess.Popen) -> tuple[int, float]:
    """Exit status and CPU seconds of the child with the kernel it waited for (its rusage)."""
    try:
        _, status, usage = os.wait4(child.pid, 0)
    except ChildProcessError:  # already reaped (e.g. by a stop): no usage to report
        return child.wait(), 0.0
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, usage.ru_utime + usage.ru_stime


def run_in_child(source: Path, target: Path, parameters: dict, cwd: Path, progress_file: Path,
                 log: Callable[[str], None], env: dict | None = None) -> float:
    """:func:`run_notebook` in a child process of its own session, with ``env`` added to this
    process's environment (the kernel inherits it); its log lines reach ``log``. Returns the CPU
    seconds of the child and its kernel. A failure raises RuntimeError with the end of the child's
    output; an interrupt (here, or :func:`stop_all` from another thread) stops the child and its
    kernel and raises KeyboardInterrupt."""
    args = {"source": str(source), "target": str(target), "parameters": parameters, "cwd": str(cwd),
            "progress_file": str(progress_file)}
    child = subprocess.Popen([sys.executable, "-m", "hdmann.book.execution", json.dumps(args)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True,
                             env={**os.environ, **(env or {})})
    with _LOCK:
        _RUNNING.add(child)
    tail: list[str] = []
    try:
        for line in child.stdout:
            line = line.rstrip("\n")
            tail = (tail + [line])[-60:]
            if not any(noise in line for noise in SHUTDOWN_NOISE):
                log(line)
        code, cpu = _wait_with_cpu(child)
    except BaseException:
        _stop(child)
        raise
    finally:
        with _LOCK:
            _RUNNING.discard(child)
    if getattr(child, "hdmann_stopped", False):
        raise KeyboardInterrupt
    if code != 0:
        raise RuntimeError(f"chapter {Path(source).stem} failed (exit status {code}); the end of its output:\n"
                           + "\n".join(tail))
    return cpu


if __name__ == "__main__":
    _args = json.loads(sys.argv[1])
    run_notebook(Path(_args["source"]), Path(_args["target"]), _args["parameters"], Path(_args["cwd"]),
                 Path(_args["progress_file"]), progress.say)
