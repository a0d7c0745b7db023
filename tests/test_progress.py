"""The runner's log: progress lines relayed from a kernel, heartbeats, epoch lines, and no noise."""
from __future__ import annotations

import json
import threading
import time

import keras
import nbformat
import numpy as np
import pytest

from hdmann.book import execution
from hdmann.engine import progress
from hdmann.methods import train


def test_durations_read_like_a_clock():
    assert [progress.duration(s) for s in (4.4, 59.6, 190, 3725)] == ["4 s", "1m00s", "3m10s", "1h02m"]


def test_emit_writes_to_the_runners_file_or_the_sink_or_stderr(tmp_path, monkeypatch, capsys):
    path = tmp_path / "p.progress"
    monkeypatch.setenv(progress.ENV, str(path))
    progress.emit("epoch 1\nof 3")
    assert path.read_text() == "epoch 1 of 3\n"
    monkeypatch.delenv(progress.ENV)
    lines = []
    progress.set_sink(lines.append)
    try:
        progress.emit("stage done")
    finally:
        progress.set_sink(None)
    progress.emit("no runner, no sink")  # neither: stderr, where a notebook cell shows it
    assert lines == ["stage done"]
    assert capsys.readouterr().err == "no runner, no sink\n"


def test_reporter_relays_lines_and_beats_while_a_cell_is_silent(tmp_path, monkeypatch):
    path, lines = tmp_path / "chapter.progress", []
    with progress.Reporter(path, lines.append, indent="> ", heartbeat_s=0.3, poll_s=0.05) as reporter:
        reporter.cell(4, 30)
        time.sleep(0.5)
        monkeypatch.setenv(progress.ENV, str(path))
        progress.emit("model: epoch 1/2")
        with open(path, "a") as f:
            f.write("half a li")  # a line still being written waits
        time.sleep(0.2)
    assert any(line.startswith("> cell 5/30 · ") for line in lines), lines
    assert "> model: epoch 1/2" in lines and not any("half" in line for line in lines)
    assert not path.exists(), "the progress file is removed afterwards"


def test_epoch_lines_are_one_per_slow_epoch_and_always_the_last():
    lines = []
    progress.set_sink(lines.append)
    try:
        keras.utils.set_random_seed(0)
        x = np.random.default_rng(0).random((32, 3), dtype=np.float32)
        inputs = keras.Input((3,))
        model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
        model.compile("adam", "binary_crossentropy")
        model.fit(x, x[:, :1] > 0.5, epochs=4, verbose=0, callbacks=[train.EpochLog("fast", 4)])
        model.fit(x, x[:, :1] > 0.5, epochs=2, verbose=0, callbacks=[train.EpochLog("every", 2, every_s=0)])
    finally:
        progress.set_sink(None)
    assert [line.split(" · ")[0] for line in lines] == ["fast: epoch 4/4", "every: epoch 1/2", "every: epoch 2/2"]
    assert all(" · loss " in line and line.endswith(" s") for line in lines)


def test_a_notebook_runs_quietly_and_reports_its_cells(tmp_path, capfd):
    """No "Kernel is running over TCP" warning (IPC sockets), no papermill bar; the kernel's
    progress lines reach the log and not the notebook."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("from hdmann.engine import progress\nprogress.emit(f'step {x}')\nprint('shown')")]
    source, target = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, source)
    lines = []
    execution.run_notebook(source, target, {"x": 7}, tmp_path, tmp_path / "out.progress", lines.append)
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out
    assert "Executing" not in captured.err, "no papermill progress bar"
    assert [line.strip() for line in lines] == ["step 7"]
    outputs = [o for c in json.loads(target.read_text())["cells"] for o in c.get("outputs", [])]
    assert any("shown" in "".join(o.get("text", "")) for o in outputs)
    assert not any("step 7" in "".join(o.get("text", "")) for o in outputs)
    assert list(tmp_path.glob("kernel-ipc*")) == [] and not (tmp_path / "out.progress").exists()


def _fake_chapter(monkeypatch, code: str) -> None:
    """Make run_in_child start ``python -c code`` instead of a notebook run (same session handling)."""
    import subprocess
    import sys

    real = subprocess.Popen
    monkeypatch.setattr(execution.subprocess, "Popen", lambda args, **kw: real([sys.executable, "-c", code], **kw))


def test_a_chapter_child_reports_its_cpu_and_its_lines(tmp_path, monkeypatch):
    _fake_chapter(monkeypatch, "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
                               "print('cell 1/1', flush=True)")
    lines = []
    cpu = execution.run_in_child(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {}, tmp_path, tmp_path / "p", lines.append)
    assert lines == ["cell 1/1"] and cpu >= 0.25


def test_stop_all_stops_chapters_running_in_other_threads(tmp_path, monkeypatch):
    """The book runs chapters in threads; Ctrl-C reaches the main thread only, which stops them all:
    each child is gone within seconds and its thread raises KeyboardInterrupt."""

    from hdmann.book import runner as book

    _fake_chapter(monkeypatch, "import os, sys, time\nprint(os.getpid(), flush=True)\ntime.sleep(120)")
    pids, outcome = [], {}

    def chapter(name):
        try:
            execution.run_in_child(tmp_path / "a.ipynb", tmp_path / f"{name}.ipynb", {}, tmp_path, tmp_path / name,
                                   lambda line: pids.append(int(line)))
        except KeyboardInterrupt:
            outcome[name] = "interrupted"
            raise
        return tmp_path / name

    runner = threading.Thread(target=lambda: outcome.update(
        raised=_raises(lambda: book.run_chapters(chapter, ["a", "b", "c"], 2))))
    runner.start()
    deadline = time.monotonic() + 30
    while len(pids) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pids) == 2  # two at a time
    t0 = time.monotonic()
    execution.stop_all()
    runner.join(30)
    assert not runner.is_alive() and time.monotonic() - t0 < 15
    assert outcome["a"] == outcome["b"] == "interrupted" and outcome["raised"] == "KeyboardInterrupt"
    for pid in pids:
        assert not _alive(pid)


def _raises(fn) -> str:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - the test reads which one
        return type(exc).__name__
    return "nothing"


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_chapters_keeps_the_order_and_runs_them_at_once():
    from hdmann.book import runner as book

    def slow(name):
        time.sleep(0.6)
        return name

    t0 = time.monotonic()
    assert book.run_chapters(slow, ["a", "b", "c", "d"], 4) == ["a", "b", "c", "d"]
    assert time.monotonic() - t0 < 2.0
    assert book.run_chapters(slow, ["a"], 1) == ["a"]


def test_a_chapter_starts_once_its_stages_are_built_while_others_still_build(tmp_path, monkeypatch):
    """The runner executes a chapter as soon as its own stages are in the cache (the first ready one in
    book order), beside stages still building; a chapter whose stages the step never built fails."""
    from hdmann.book import runner as book
    from hdmann.engine import cache

    built: set = set()
    monkeypatch.setattr(cache, "is_cached", lambda folder: folder in built)
    step = book.StageStep({"early": [], "late": [tmp_path / "model"], "cheap": [tmp_path / "survey"]})
    started: list[str] = []

    def chapter(name):
        started.append(name)
        return name

    runner = threading.Thread(target=lambda: started.append(tuple(book.run_chapters(chapter, ["early", "late", "cheap"],
                                                                                     1, step.ready, poll_s=0.05))))
    runner.start()
    time.sleep(0.1)
    cpu = time.process_time()
    time.sleep(0.4)
    assert started == ["early"]  # "late" and "cheap" wait for their stages
    assert time.process_time() - cpu < 0.2, "waiting for stages must sleep, not spin (it steals a core from them)"
    built.add(tmp_path / "survey")
    time.sleep(0.3)
    assert started == ["early", "cheap"]  # ready first, though later in book order
    built.add(tmp_path / "model")
    runner.join(5)
    assert started == ["early", "cheap", "late", ("early", "late", "cheap")]  # results in book order

    stop, stopped = threading.Event(), []
    waiting = book.StageStep({"late": [tmp_path / "never"]})
    runner = threading.Thread(target=lambda: stopped.append(_raises(
        lambda: book.run_chapters(chapter, ["late"], 1, waiting.ready, poll_s=0.05, stop=stop))))
    runner.start()
    stop.set()  # the build's Ctrl-C, seen from the chapters' thread: nothing more starts
    runner.join(5)
    assert stopped == ["KeyboardInterrupt"] and started[-1] != "late"

    failed = book.StageStep({"late": [tmp_path / "never"]})
    failed.over.set()
    with pytest.raises(RuntimeError, match="1 of its stages were not built"):
        book.run_chapters(chapter, ["late"], 1, failed.ready, poll_s=0.05)


def test_a_chapter_outside_the_runner_shows_its_epochs_on_stderr(tmp_path):
    """In a kernel started by JupyterLab, nbconvert or papermill (no HDMANN_PROGRESS) training lines
    reach stderr; under the runner they go to its file and never into the page."""
    import os
    import subprocess
    import sys

    script = "from hdmann.engine import progress\nprogress.emit('epoch 3/20 · loss 0.1')\n"
    env = {k: v for k, v in os.environ.items() if k != progress.ENV}
    alone = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert alone.returncode == 0 and "epoch 3/20" in alone.stderr
    relay = tmp_path / "progress.txt"
    runner = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**env, progress.ENV: str(relay)})
    assert runner.returncode == 0 and "epoch 3/20" not in runner.stderr
    assert "epoch 3/20" in relay.read_text()
