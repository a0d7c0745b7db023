"""The book runner: execute every chapter notebook with papermill, then build with Jupyter Book.

Executed notebooks are named after their profile (``_build/executed/<profile>/<name>.ipynb``) and
carry a key of everything they depend on (notebook source, parameters, package code, data), so a
rebuild with nothing changed re-executes nothing. The book is assembled in ``_build/source`` from
the committed sources and the executed notebooks, and built with warnings as errors.

Assembly also turns a run into what a reader takes away: the parameters cells are hidden (each
chapter names its profile), every page gets a provenance footer, every table shown with
:func:`hdmann.book.report.table` is published as CSV beside its page, and every glued value of the
build goes into ``_build/html/results.json`` (also kept as ``_build/results/<profile>.json``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from hdmann import studies
from hdmann.book import bookext, execution, graph, registry, report, results, variants
from hdmann.engine import cache, config, data, progress, provenance, stages
from hdmann.engine.config import PROFILES

PROJECT = Path(__file__).resolve().parents[2]
CHAPTERS = registry.chapter_names()  # notebooks, parts, datasets, configs: each study's __init__
BOOK_FILES = ("_config.yml", "CITATION.bib")  # _toc.yml is written from the registry (registry.toc_yaml)
KEY = "hdmann_key"
PROVENANCE = "hdmann_provenance"
HIDDEN_TAGS = ("parameters", "injected-parameters")  # shown only through the chapter's profile note
STATIC_DIR = "_static"
STATIC_FILES = {"book.css": "hdmann.css", "favicon.svg": "hdmann-favicon.svg"}  # named in _config.yml


def check_data(data_root=None, log=print, chapters=CHAPTERS) -> Path:
    """Fail before any notebook runs if the data root, a dataset the ``chapters`` read or any of its
    images is missing or bad: ``hdmann check`` decodes every image (once; verdicts are cached)."""
    root = data.resolve_data_root(data_root)
    try:
        registry.check_data(root, registry.datasets_for(chapters), log)
    except data.DataError as exc:
        advice = registry.partial_root_advice(root, chapters)
        raise data.DataError(f"{exc}\n{advice}" if advice else str(exc)) from None
    return root


def _package_fingerprint() -> str:
    h = hashlib.sha256()
    for path in sorted((PROJECT / "hdmann").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".csv", ".sha256", ".mplstyle"):
            h.update(path.relative_to(PROJECT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def run_context(data_root: Path, datasets=("isic4", "mias")) -> str:
    """What a chapter depends on besides its own source and parameters: the package code and the
    content of every file of the ``datasets`` it reads (:attr:`hdmann.studies.Chapter.datasets`),
    the MIAS tables included, so a data edit re-executes the chapters that read it."""
    fingerprints = []
    if "isic4" in datasets:
        fingerprints.append(data.fingerprint_files([p for s in data.ISIC_SPLITS for p, _ in data.list_isic(s, data_root)]))
    if "mias" in datasets:
        mias = data.load_mias(data_root)
        fingerprints.append(data.fingerprint_files([mias.path(n) for n in mias.names] + mias.table_files(lesions=True)))
    for name in (d for d in datasets if d not in ("isic4", "mias")):
        fingerprints.append(data.fingerprint_files(p for p in (Path(data_root) / name).rglob("*") if p.is_file()))
    return json.dumps({"package": _package_fingerprint(), "data": fingerprints}, sort_keys=True)


def notebook_key(notebook: Path, parameters: dict, context: str) -> str:
    """Everything an executed notebook depends on; a match means its outputs are still right."""
    blob = json.dumps({"notebook": hashlib.sha256(notebook.read_bytes()).hexdigest(),
                       "parameters": parameters, "context": context}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _stored_key(executed: Path) -> str | None:
    try:
        return json.loads(executed.read_text())["metadata"].get(KEY)
    except (OSError, ValueError, KeyError):
        return None


def _last_time(executed: Path) -> str:
    """``; 140 s last time`` from a previous executed copy (an estimate; a warm cache is faster)."""
    try:
        seconds = json.loads(executed.read_text())["metadata"][PROVENANCE]["seconds"]
        return f"; {progress.duration(seconds)} last time"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def run_chapters(run_chapter, chapters, jobs: int, ready=None, poll_s: float = 2.0,
                 stop: threading.Event | None = None) -> list[Path]:
    """``run_chapter`` of each chapter, ``jobs`` at a time (each kernel is one process, mostly on one
    core), returned in the chapters' order. ``ready(name)``, if given, says whether a chapter's stages
    are built: the first ready chapter in book order starts as a slot frees, so chapters run while
    later stages still build (it raises if they never will). Setting ``stop`` (the build's Ctrl-C,
    from another thread) starts no more chapters and stops the running ones, as does a failure."""
    ready = ready or (lambda name: True)
    stop = stop or threading.Event()
    jobs = max(1, min(jobs, len(chapters)))
    pending, running, results = list(chapters), {}, {}
    pool = ThreadPoolExecutor(jobs, thread_name_prefix="chapter")
    try:
        while pending or running:
            if stop.is_set():
                raise KeyboardInterrupt("the build was stopped")
            for name in [n for n in pending if ready(n)][:jobs - len(running)]:
                pending.remove(name)
                running[pool.submit(run_chapter, name)] = name
            if not running:  # waiting on stages: wait() on no futures would return at once and spin
                stop.wait(poll_s)
                continue
            done, _ = wait(running, timeout=poll_s, return_when=FIRST_COMPLETED)
            for future in done:
                results[running.pop(future)] = future.result()
        return [results[name] for name in chapters]
    except BaseException:
        for f in running:
            f.cancel()
        while not all(f.done() for f in running):  # a chapter may have started just now: stop it too
            execution.stop_all()
            wait(running, timeout=0.5)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class StageStep:
    """The stage step of a build, seen from the chapters: a chapter is ready once every stage it
    reads is in the cache; once the step is over, a chapter whose stages are not all there never
    will be (the step failed or was stopped)."""

    def __init__(self, folders: dict[str, list[Path]]):
        self.folders = folders
        self.over = threading.Event()

    def ready(self, name: str) -> bool:
        waiting = [f for f in self.folders.get(name, []) if not cache.is_cached(f)]
        if waiting and self.over.is_set():
            raise RuntimeError(f"chapter {name}: {len(waiting)} of its stages were not built (see the stage step above)")
        self.folders[name] = waiting  # built stages stay built
        return not waiting


def data_fingerprint(context: str) -> str:
    return hashlib.sha256(json.dumps(json.loads(context)["data"]).encode()).hexdigest()


def execute(name: str, profile: str, data_root: Path, out_dir: Path, context: str, log=print,
            record=None, overrides: dict | None = None, usage: dict | None = None) -> Path:
    """Run one chapter notebook with papermill unless its executed copy is up to date.
    ``context`` is :func:`run_context` of ``data_root``, computed once per build; ``record`` returns
    the build's provenance (:func:`hdmann.engine.provenance.collect`), stored with the chapter's compute time;
    ``overrides`` (``{section: {field: value}}`` of the configs it takes) is its ``overrides`` parameter;
    ``usage`` receives the kernel's CPU seconds (``cpu``). Safe to call from several threads at once."""

    source = PROJECT / "notebooks" / f"{name}.ipynb"
    executed = out_dir / f"{name}.ipynb"
    # the data root reaches the kernel through HDMANN_DATA, so the published book prints no
    # path of this machine in its injected parameters cell
    parameters = {"profile": profile, "overrides": overrides or {}}
    key = notebook_key(source, parameters, context)
    if _stored_key(executed) == key:
        log(f"  {name}: up to date")
        return executed
    log(f"  {name}: executing ({profile}{_last_time(executed)})")
    start = time.perf_counter()
    tmp = executed.with_suffix(".running.ipynb")
    out_dir.mkdir(parents=True, exist_ok=True)

    # a chapter only reads the stages `hdmann run` built: a miss names the stage, never trains here
    environment = {"HDMANN_DATA": str(data_root), report.CHAPTER_ENV: name, stages.READONLY_ENV: "1"}
    try:
        cpu = execution.run_in_child(source, tmp, parameters, PROJECT, executed.with_suffix(".progress"),
                                     lambda line: log(f"      {name}: {line.strip()}"), env=environment)
        if usage is not None:
            usage["cpu"] = cpu
        seconds = time.perf_counter() - start  # kernel start and every cell, as a reader rerunning it waits
        nb = json.loads(tmp.read_text())
        nb["metadata"][KEY] = key
        nb["metadata"][PROVENANCE] = {**(record() if record else {}), "seconds": seconds, "finished": provenance.now(),
                                      "overrides": config.flat_overrides(overrides)}
        tmp.write_text(json.dumps(nb, indent=1))
        os.replace(tmp, executed)  # the previous good copy survives a failed run
    except KeyboardInterrupt:  # Ctrl-C: nothing half-written stays; the next build executes it again
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".log").unlink(missing_ok=True)
        log(f"  {name}: interrupted")
        raise
    except BaseException:
        log(f"  {name}: FAILED; the partly executed notebook is kept at {tmp}")
        raise
    log(f"  {name}: done in {time.perf_counter() - start:.0f} s")
    return executed


def _relative_root(page: str) -> str:
    """From a page's path in the book (``book/executed/data``) back to the HTML root."""
    return "../" * page.count("/")


def prepare_chapter(nb: dict, chapter: str, profile: str, build_record: dict) -> tuple[dict, list[dict], list[dict]]:
    """Ready one executed notebook for the book: hide the parameters cells, take its tables' CSVs out
    of the outputs, add the provenance footer. Returns (notebook, glued values, tables)."""
    tables = []
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if any(t in tags for t in HIDDEN_TAGS) and "remove-cell" not in tags:
            tags.append("remove-cell")
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get(report.TABLE_METADATA)
            if meta and report.CSV_MIME in output.get("data", {}):
                text = output["data"].pop(report.CSV_MIME)
                text = "".join(text) if isinstance(text, list) else text
                if any(t["name"] == meta["name"] for t in tables):
                    raise ValueError(f"chapter {chapter}: two tables are named {meta['name']!r}; "
                                     "give each report.table(...) call its own name")
                tables.append({"chapter": chapter, "name": meta["name"], "rows": meta.get("rows"),
                               "path": f"book/executed/{chapter}/{meta['name']}.csv", "csv": text})
    values = results.glued_values(nb, chapter, profile)
    record = {**(nb.get("metadata", {}).get(PROVENANCE) or build_record),
              "build_overrides": build_record.get("overrides") or {}}  # a variant's, shown on every page
    page = f"book/executed/{chapter}"
    nb["cells"].append({"cell_type": "markdown", "id": "hdmann-provenance", "metadata": {"tags": ["hdmann-provenance"]},
                        "source": provenance.footer_html(record, _relative_root(page) + "results.json")})
    return nb, values, tables


def assemble(profile: str, out: Path, build_record: dict | None = None) -> tuple[Path, list[dict], list[dict]]:
    """Copy the committed book sources and the executed notebooks into one Jupyter Book folder, each
    page ready for readers (see :func:`prepare_chapter`). Returns (folder, glued values, tables)."""
    build_record = build_record or {"profile": profile, "finished": provenance.now()}
    src = out / "_build" / "source"
    if src.exists():
        shutil.rmtree(src)
    (src / "book" / "executed").mkdir(parents=True)
    (src / STATIC_DIR).mkdir()
    for resource, published in STATIC_FILES.items():
        shutil.copy2(PROJECT / "hdmann" / "resources" / resource, src / STATIC_DIR / published)
    for name in BOOK_FILES:
        shutil.copy2(PROJECT / name, src / name)
    present = [name for name in CHAPTERS if (out / "_build" / "executed" / profile / f"{name}.ipynb").is_file()]
    (src / "_toc.yml").write_text(registry.toc_yaml(present))  # a variant may lack chapters it did not build
    for path in (PROJECT / "book").iterdir():
        if not path.is_file():
            continue
        target = src / "book" / path.name
        shutil.copy2(path, target)
        if path.suffix == ".md":  # a static page: the build's provenance, without a compute time
            page = f"book/{path.stem}"
            with target.open("a") as f:
                f.write("\n\n" + provenance.footer_html(build_record, _relative_root(page) + "results.json"))
    values, tables = [], []
    for nb_path in sorted((out / "_build" / "executed" / profile).glob("*.ipynb")):
        if nb_path.name.endswith(".running.ipynb"):
            continue
        nb, chapter_values, chapter_tables = prepare_chapter(json.loads(nb_path.read_text()), nb_path.stem,
                                                             profile, build_record)
        (src / "book" / "executed" / nb_path.name).write_text(json.dumps(nb, indent=1))
        values += chapter_values
        tables += chapter_tables
    _unlink_missing_labels(src)
    return src, values, tables


_LABEL_DEFINED = re.compile(r":name:\s*([\w-]+)|^\(([\w-]+)\)=", re.M)
_LABEL_USED = re.compile(r"\{(?:numref|ref)\}`(?:[^`<]*<)?([\w-]+)>?`")
_DOC_USED = re.compile(r"\{doc\}`([\w./-]+)`")


def _unlink_missing_labels(src: Path) -> None:
    """A partial build (``--chapters``, or a variant seeded with some chapters) may hold a page that
    links a page it lacks or refers to a figure of such a chapter; with warnings as errors that would
    fail the build. Such a reference becomes plain text naming its target."""
    pages = list(src.rglob("*.md")) + list(src.rglob("*.ipynb"))
    texts = {p: p.read_text() for p in pages}

    def markdown(path: Path) -> str:
        if path.suffix != ".ipynb":
            return texts[path]
        cells = json.loads(texts[path]).get("cells", [])
        return "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "markdown")

    defined = {a or b for p in pages for a, b in _LABEL_DEFINED.findall(markdown(p))}
    def page_exists(path: Path, target: str) -> bool:
        return any((path.parent / f"{target}{suffix}").is_file() for suffix in (".md", ".ipynb"))

    for path, text in texts.items():
        new = _LABEL_USED.sub(lambda m: m.group(0) if m.group(1) in defined
                              else f"`{m.group(1)}` (in a chapter not in this build)", text)
        new = _DOC_USED.sub(lambda m: m.group(0) if page_exists(path, m.group(1))
                            else f"*{_page_title(m.group(1))}* (not in this build)", new)
        if new != text:
            path.write_text(new)


def _page_title(target: str) -> str:
    """How a page a partial build lacks is named in words: a chapter by its notebook's title, another
    page by its name."""
    name = Path(target).name
    notebook = PROJECT / "notebooks" / f"{name}.ipynb"
    if notebook.is_file():
        cells = json.loads(notebook.read_text()).get("cells", [])
        first = "".join(cells[0].get("source", "")).splitlines()[0] if cells else ""
        if first.startswith("# "):
            return first[2:].strip()
    return name.replace("_", " ")


def _forget_root_redirect(html_dir: Path) -> None:
    """Sphinx's table-of-contents extension writes ``index.html`` (a redirect to the root page) only
    when it is missing, so a root that changed between builds (the landing page, or the fallback page
    of a build of some chapters only) would keep pointing at the old one."""
    index = html_dir / "index.html"
    if index.is_file() and 'http-equiv="Refresh"' in index.read_text(errors="replace")[:500]:
        index.unlink()


NOT_PAGES = frozenset({"venv", "notebooks", "tests", "bench", "hdmann", "_build"})  # and hidden or _cache* folders


def remove_stray_pages(html_dir: Path) -> list[str]:
    """Folders of pages no book build makes: a `jupyter-book build .` run by hand in a checkout, before
    _config.yml excluded them, rendered .venv and the sources into _build/html, and Sphinx never
    deletes what it did not write this time. Returns the names removed."""
    removed = []
    for child in sorted(html_dir.iterdir()) if html_dir.is_dir() else []:
        if child.is_dir() and (child.name.startswith(".") or child.name in NOT_PAGES or child.name.startswith("_cache")):
            shutil.rmtree(child)
            removed.append(child.name)
    return removed


def publish(html_dir: Path, out: Path, profile: str, build_record: dict, values, tables) -> Path:
    """Write the tables' CSVs beside their pages and the build's results.json; returns the latter."""
    for table in tables:
        target = html_dir / table["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(table["csv"])
    listed = [{k: v for k, v in t.items() if k != "csv"} for t in tables]
    path = results.write(html_dir / "results.json", profile, build_record, values, listed)
    kept = out / "_build" / "results"
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, kept / f"{profile}.json")  # survives the next build of another profile
    return path


def leave_for_jupyter_book(src: Path, html_dir: Path, build_record: dict, tables, checkout: Path = PROJECT) -> None:
    """Leave in ``checkout`` what ``jupyter-book build .`` there needs to rebuild this build's HTML (all
    git-ignored, replaced by each build of the project's own book): the executed, assembled chapters
    where ``_toc.yml`` names them, the ``_static`` files ``_config.yml`` names, the files published
    beside the pages and the static pages' provenance footer (:mod:`hdmann.book.bookext` reads both)."""
    executed, static, published = checkout / "book" / "executed", checkout / STATIC_DIR, checkout / bookext.PUBLISHED_DIR
    for folder in (executed, static, published):
        if folder.exists():
            shutil.rmtree(folder)
    shutil.copytree(src / "book" / "executed", executed)
    shutil.copytree(src / STATIC_DIR, static)
    for relative in [t["path"] for t in tables] + ["results.json"]:
        (published / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(html_dir / relative, published / relative)
    (checkout / bookext.STATIC_FOOTER).write_text(provenance.footer_html(build_record, _relative_root("book/page") + "results.json"))


def build(profile: str = "quick", data_root=None, out: str | os.PathLike | None = None,
          chapters=CHAPTERS, log=progress.say, overrides: dict | None = None, jobs: int | None = None,
          scheduler=None) -> Path:
    """Build the chapters' stages (:func:`hdmann.engine.stages.run`; ``jobs`` processes or a Dask
    ``scheduler``), execute the chapters in ``profile`` and build the HTML book; returns its index.html.
    ``overrides`` (``{section: {field: value}}``, ``hdmann book --set``) build a variant beside the
    profile's book (:mod:`hdmann.book.variants`)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    unknown = set(chapters) - set(CHAPTERS)
    if unknown:
        raise ValueError(f"unknown chapter(s) {sorted(unknown)}: choose from {CHAPTERS}")
    studies.check_overrides(profile, overrides or {})
    base_out = Path(out or PROJECT).resolve()
    out = variants.out_folder(base_out, profile, overrides)
    label = variants.name(profile, overrides)
    log(f"hdmann book: profile {label}" + (f" ({variants.describe(overrides)})" if overrides else "")
        + f", {len(chapters)} chapter(s), data root {data_root or os.environ.get('HDMANN_DATA') or 'data'}")
    root = check_data(data_root, log, chapters)
    with data.memoized():  # each dataset listed and fingerprinted once for every chapter
        contexts = {name: run_context(root, registry.chapter(name).datasets) for name in chapters}
        context = run_context(root, registry.datasets_for(chapters))  # the build's data, for its provenance
    taken = {name: registry.chapter(name).overrides(overrides) for name in chapters}
    if out != base_out:
        variants.write_note(out, profile, overrides)
        variants.seed_from_profile(base_out / "_build" / "executed" / profile, out / "_build" / "executed" / profile,
                                   [c.name for c in registry.chapters() if not c.overrides(overrides)])

    timings = BuildTimings(profile=label, chapters_requested=list(chapters))
    by_chapter = {name: graph.calls_for([name], profile, root, overrides) for name in chapters}
    calls = [c for name in chapters for c in by_chapter[name]]
    step = StageStep(stages.folders_by_target(by_chapter, root))
    collected, collecting = {}, threading.Lock()

    def record() -> dict:  # collected once, and only when needed (it asks a child process for the devices)
        with collecting:
            if not collected:
                collected.update(provenance.collect(profile, data_fingerprint(context)))
            return dict(collected)

    def run_chapter(name: str) -> Path:
        started, usage = time.perf_counter(), {}
        path = execute(name, profile, root, out / "_build" / "executed" / profile, contexts[name], log, record,
                       taken[name], usage)
        timings.chapters[name] = {"wall": round(time.perf_counter() - started, 1), "cpu": round(usage.get("cpu", 0.0), 1)}
        return path

    # Chapters execute as soon as their own stages are built, beside the stages still building: the
    # cores a long last stage leaves idle run the chapters instead of waiting for the whole step. So
    # up to `jobs` stage workers and `jobs` kernels share the cores while both run.
    stop = threading.Event()
    chapter_pool = ThreadPoolExecutor(1, thread_name_prefix="chapters")
    chapters_done = chapter_pool.submit(run_chapters, run_chapter, chapters, jobs or stages.default_jobs(),
                                        step.ready, stop=stop)
    chapters_done.add_done_callback(lambda f: not f.cancelled() and f.exception() and not step.over.is_set() and log(
        f"  a chapter failed ({type(f.exception()).__name__}: {f.exception()}); the stages still building are "
        "finished and kept, then the build stops"))
    try:
        try:
            if calls:
                summary = stages.run(calls, root, jobs=jobs, scheduler=scheduler, log=log)
                timings.stages_done(summary)
        finally:
            step.over.set()
        executed = chapters_done.result()
    except BaseException:
        stop.set()  # Ctrl-C during the stages or while chapters still run: no chapter outlives the build
        execution.stop_all()
        wait([chapters_done], timeout=60)
        raise
    finally:
        chapter_pool.shutdown(wait=False)
    timings.write(out / "_build" / "timings" / f"{label}.json")
    if not collected:  # nothing ran: the pages' device is the one their chapters were computed on
        devices = {json.loads(p.read_text())["metadata"].get(PROVENANCE, {}).get("device") for p in executed}
        known = devices.pop() if len(devices) == 1 else None
        collected.update(provenance.collect(profile, data_fingerprint(context), known))
    build_record = {**record(), "finished": provenance.now(), "overrides": config.flat_overrides(overrides)}
    src, values, tables = assemble(profile, out, build_record)
    log("  jupyter-book build (warnings are errors)")
    started = time.perf_counter()
    _forget_root_redirect(out / "_build" / "html")
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(src), "--path-output", str(out),
           "--warningiserror", "--nitpick", "--keep-going", "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    index = out / "_build" / "html" / "index.html"
    stray = remove_stray_pages(index.parent)
    if stray:
        log(f"  removed {len(stray)} folder(s) of stray pages from an earlier `jupyter-book build .`: {', '.join(stray)}")
    publish(index.parent, out, profile, build_record, values, tables)
    if out == PROJECT:  # the project's own book, not a variant or another --out: `jupyter-book build .` rebuilds it
        leave_for_jupyter_book(src, index.parent, build_record, tables)
    log(f"  jupyter-book build: done in {time.perf_counter() - started:.0f} s")
    log(f"The book is at {index}; its numbers are in {index.parent / 'results.json'}")
    return index


@dataclass
class BuildTimings:
    """Where a build's time went: each stage built, each chapter executed, in wall and CPU seconds
    (a stage's CPU as its worker measured it; the total is their sum, not the machine's).

    Written to ``_build/timings/<profile>.json`` before the HTML step, so an interrupted or subset
    build (``--chapters``) keeps its record too; ``bench/run.py`` reads it for the cold-build record.
    A build that built no stage leaves a record that did in place: a warm rebuild (seconds) would
    otherwise erase the one measurement of a cold build that a user wants to keep."""

    profile: str
    chapters_requested: list
    stages: dict = field(default_factory=dict)
    chapters: dict = field(default_factory=dict)
    stage_wall_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    load_start: tuple = field(default_factory=lambda: os.getloadavg())

    def stages_done(self, summary: dict) -> None:
        cpu = summary.get("cpu", {})
        self.stages = {label: {"wall": round(seconds, 1), "cpu": None if cpu.get(label) is None else round(cpu[label], 1)}
                       for label, seconds in summary.get("times", {}).items()}
        self.stage_wall_seconds = round(summary.get("seconds", 0.0), 1)

    def write(self, path: Path) -> Path:
        if not self.stages and _built_stages(path):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"profile": self.profile, "finished": provenance.now(), "cores": stages.default_jobs(),
                  "wall_seconds": round(time.perf_counter() - self.started, 1),
                  "cpu_seconds": round(sum(s["cpu"] or 0 for s in self.stages.values())
                                       + sum(c["cpu"] for c in self.chapters.values()), 1),
                  "load_average_start": [round(x, 2) for x in self.load_start],
                  "load_average_end": [round(x, 2) for x in os.getloadavg()],
                  "stage_wall_seconds": self.stage_wall_seconds, "stages": self.stages,
                  "chapters": self.chapters, "chapters_requested": self.chapters_requested}
        path.write_text(json.dumps(record, indent=1))
        return path


def _built_stages(path: Path) -> bool:
    """Whether the timings record at ``path`` is of a build that built stages (unreadable: no)."""
    try:
        return bool(json.loads(path.read_text()).get("stages"))
    except (OSError, ValueError, AttributeError):
        return False


def prepare_lab(profile: str, data_root=None, out: str | os.PathLike | None = None, log=print) -> Path:
    """Copies of the chapter notebooks with ``profile`` injected, for JupyterLab, in
    ``_build/lab/<profile>/``. A copy that exists is kept: it may hold the reader's edits."""
    import papermill

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    data.resolve_data_root(data_root)
    folder = Path(out or PROJECT).resolve() / "_build" / "lab" / profile
    folder.mkdir(parents=True, exist_ok=True)
    for name in CHAPTERS:
        target = folder / f"{name}.ipynb"
        if target.exists():
            log(f"  {target.name}: kept (delete it to start again from notebooks/{name}.ipynb)")
            continue
        papermill.execute_notebook(str(PROJECT / "notebooks" / f"{name}.ipynb"), str(target),
                                   parameters={"profile": profile}, prepare_only=True, progress_bar=False)
    return folder
