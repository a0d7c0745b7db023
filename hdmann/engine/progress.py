"""Progress a person can follow while a chapter computes, without noise in the book.

Code inside a chapter's kernel (a training loop, say) calls :func:`emit`; the book runner sets
``HDMANN_PROGRESS`` to a file it tails and relays each line to its own log, so the lines reach the
terminal but never the executed notebook (whose outputs become the published page). Outside the
runner a line goes to the sink if one is set (:func:`set_sink`), else to stderr: a chapter run in
JupyterLab, papermill or nbconvert shows its epochs in the cell's stderr stream. ``hdmann run`` (and the stage
step of ``hdmann book``) gives its stage workers such a file too, and relays their lines, each
starting with the stage's label (:func:`set_prefix`).

The runner's side is :class:`Reporter`: one thread per executing chapter that relays those lines
and, when a cell runs long without any, prints a heartbeat such as ``cell 12/30 · 3m10s``.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable

ENV = "HDMANN_PROGRESS"  # a file the runner tails; set for the chapter's kernel only
HEARTBEAT_S = 30.0  # a silent cell gets a line this often
POLL_S = 1.0

_sink: Callable[[str], None] | None = None
_prefix = ""  # the stage a worker is building, so relayed lines say whose epoch they are


def set_sink(log: Callable[[str], None] | None) -> None:
    """Where :func:`emit` sends lines when no runner is listening (None: stderr)."""
    global _sink
    _sink = log


def set_prefix(text: str) -> None:
    """Start every later :func:`emit` line of this process with ``text: `` ("" for none)."""
    global _prefix
    _prefix = f"{text}: " if text else ""


def say(line: str) -> None:
    """The runner's log: print and flush, so a piped or redirected log keeps up with the build."""
    print(line, flush=True)


def emit(line: str) -> None:
    """One progress line (e.g. an epoch); never raises: progress must not break a computation."""
    path = os.environ.get(ENV)
    line = _prefix + line
    try:
        if path:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line.replace("\n", " ") + "\n")
        elif _sink is not None:
            _sink(line)
        else:
            print(line, file=sys.stderr, flush=True)
    except OSError:
        pass


def duration(seconds: float) -> str:
    """``42 s``, ``3m10s``, ``1h02m``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Reporter:
    """The runner's side for one chapter: relays :func:`emit` lines from ``path`` and prints a
    heartbeat while a cell is silent. Use as a context manager; :meth:`cell` is papermill's hook."""

    def __init__(self, path: Path, log: Callable[[str], None], indent: str = "      ",
                 heartbeat_s: float = HEARTBEAT_S, poll_s: float = POLL_S):
        self.path, self.log, self.indent = Path(path), log, indent
        self.heartbeat_s, self.poll_s = heartbeat_s, poll_s
        self.start = time.perf_counter()
        self.index, self.total = 0, 0
        self._offset = 0
        self._last_line = self.start
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="hdmann-progress", daemon=True)

    def __enter__(self) -> "Reporter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._relay()
        self.path.unlink(missing_ok=True)

    @property
    def last_line(self) -> float:
        """When the last line was relayed or said (``time.perf_counter``)."""
        return self._last_line

    def cell(self, index: int, total: int) -> None:
        """Called when cell ``index`` (0-based) of ``total`` starts."""
        self.index, self.total = index + 1, total

    def _say(self, text: str) -> None:
        with self._lock:
            self.log(self.indent + text)
            self._last_line = time.perf_counter()

    def _relay(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next poll
        self._offset += len(complete)
        for line in complete.decode("utf-8", "replace").splitlines():
            if line.strip():
                self._say(line)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._relay()
            now = time.perf_counter()
            if now - self._last_line >= self.heartbeat_s and self.total:
                self._say(f"cell {self.index}/{self.total} · {duration(now - self.start)}")
