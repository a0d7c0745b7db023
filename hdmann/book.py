"""The book runner: execute every chapter notebook with papermill, then build with Jupyter Book.

Executed notebooks are named after their profile (``_build/executed/<profile>/<name>.ipynb``) and
carry a key of everything they depend on (notebook source, parameters, package code, data), so a
rebuild with nothing changed re-executes nothing. The book is assembled in ``_build/source`` from
the committed sources and the executed notebooks, and built with warnings as errors.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hdmann import data
from hdmann.config import PROFILES

PROJECT = Path(__file__).resolve().parent.parent
CHAPTERS = ("data", "compression", "study_a_model", "study_a_representations", "study_a_beyond",
            "study_b_patches", "study_b_control")
BOOK_FILES = ("_config.yml", "_toc.yml")
KEY = "hdmann_key"


def check_data(data_root=None, log=print) -> Path:
    """Fail before any notebook runs if the data root, a dataset or any image is missing or bad:
    ``hdmann check`` decodes every image (once; verdicts are cached) and lists every bad file."""
    from hdmann import datacheck

    root = data.resolve_data_root(data_root)
    datacheck.require_clean(root, log=log)
    return root


def _package_fingerprint() -> str:
    h = hashlib.sha256()
    for path in sorted((PROJECT / "hdmann").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".csv", ".sha256", ".mplstyle"):
            h.update(path.relative_to(PROJECT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def run_context(data_root: Path) -> str:
    """What every chapter depends on besides its own source: the package code and the data."""
    isic = [p for s in data.ISIC_SPLITS for p, _ in data.list_isic(s, data_root)]
    mias = data.load_mias(data_root)
    return json.dumps({"package": _package_fingerprint(),
                       "data": [data.fingerprint_files(isic),
                                data.fingerprint_files([mias.path(n) for n in mias.names])]}, sort_keys=True)


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


def execute(name: str, profile: str, data_root: Path, out_dir: Path, context: str, log=print) -> Path:
    """Run one chapter notebook with papermill unless its executed copy is up to date.
    ``context`` is :func:`run_context` of ``data_root``, computed once per build."""
    import papermill

    source = PROJECT / "notebooks" / f"{name}.ipynb"
    executed = out_dir / f"{name}.ipynb"
    # the data root reaches the kernel through HDMANN_DATA, so the published book prints no
    # path of this machine in its injected parameters cell
    parameters = {"profile": profile}
    key = notebook_key(source, parameters, context)
    if _stored_key(executed) == key:
        log(f"  {name}: up to date")
        return executed
    log(f"  {name}: executing ({profile})")
    start = time.perf_counter()
    tmp = executed.with_suffix(".running.ipynb")
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("HDMANN_DATA")
    os.environ["HDMANN_DATA"] = str(data_root)
    try:
        papermill.execute_notebook(str(source), str(tmp), parameters=parameters, cwd=str(PROJECT),
                                   kernel_name="python3", progress_bar=False)
        nb = json.loads(tmp.read_text())
        nb["metadata"][KEY] = key
        tmp.write_text(json.dumps(nb, indent=1))
        os.replace(tmp, executed)  # the previous good copy survives a failed run
    except BaseException:
        log(f"  {name}: FAILED; the partly executed notebook is kept at {tmp}")
        raise
    finally:
        if previous is None:
            os.environ.pop("HDMANN_DATA", None)
        else:
            os.environ["HDMANN_DATA"] = previous
    log(f"  {name}: done in {time.perf_counter() - start:.0f} s")
    return executed


def assemble(profile: str, out: Path) -> Path:
    """Copy the committed book sources and the executed notebooks into one Jupyter Book folder."""
    src = out / "_build" / "source"
    if src.exists():
        shutil.rmtree(src)
    (src / "book" / "executed").mkdir(parents=True)
    for name in BOOK_FILES:
        shutil.copy2(PROJECT / name, src / name)
    for path in (PROJECT / "book").iterdir():
        if path.is_file():
            shutil.copy2(path, src / "book" / path.name)
    for nb in (out / "_build" / "executed" / profile).glob("*.ipynb"):
        if not nb.name.endswith(".running.ipynb"):
            shutil.copy2(nb, src / "book" / "executed" / nb.name)
    return src


def build(profile: str = "quick", data_root=None, out: str | os.PathLike | None = None,
          chapters=CHAPTERS, log=print) -> Path:
    """Execute the chapters in ``profile`` and build the HTML book; returns its index.html."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    unknown = set(chapters) - set(CHAPTERS)
    if unknown:
        raise ValueError(f"unknown chapter(s) {sorted(unknown)}: choose from {CHAPTERS}")
    root = check_data(data_root, log)
    out = Path(out or PROJECT).resolve()
    log(f"hdmann book: profile={profile}, data root={root}")
    context = run_context(root)
    for name in chapters:
        execute(name, profile, root, out / "_build" / "executed" / profile, context, log)
    src = assemble(profile, out)
    log("  jupyter-book build (warnings are errors)")
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(src), "--path-output", str(out),
           "--warningiserror", "--nitpick", "--keep-going", "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    index = out / "_build" / "html" / "index.html"
    log(f"The book is at {index}")
    return index
