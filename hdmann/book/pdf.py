"""``hdmann pdf``: the last book ``hdmann book`` built, as one PDF (Jupyter Book's LaTeX builder, XeLaTeX).

It typesets the assembled book that ``hdmann book`` leaves in ``_build/source`` (the executed
chapters with their provenance), so it executes nothing and shows the numbers of that build. XeLaTeX
rather than pdfLaTeX because the chapters' text and tables hold Unicode (×, µ, ≤, −) that XeLaTeX
takes straight from an OpenType font. The LaTeX log is read back for what a reader would miss:
characters the font lacks, lines that run into the margin, images that were left out.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEBIAN_PACKAGES = ("texlive-xetex", "latexmk", "texlive-latex-extra", "texlive-latex-recommended",
                   "texlive-fonts-recommended", "fonts-freefont-otf", "tex-gyre")
INSTALL = f"sudo apt-get install --no-install-recommends {' '.join(DEBIAN_PACKAGES)}"
PROJECT = Path(__file__).resolve().parents[2]
TOOLS = ("xelatex", "latexmk", "make")  # Jupyter Book runs `make all-pdf`, whose Makefile runs latexmk
TARGET = "hdmann"  # latex_documents' targetname in _config.yml: _build/latex/hdmann.pdf
OVERFULL = re.compile(r"^Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)", re.M)
PAGES = re.compile(r"^Output written on \S+ \((\d+) pages?", re.M)
MISSING_GLYPH = re.compile(r"^Missing character: There is no (.+?) in font (.+?)!", re.M)


def missing_tools(which=shutil.which) -> list[str]:
    return [tool for tool in TOOLS if not which(tool)]


def require_tools(which=shutil.which) -> None:
    """Stop at once, naming the packages, where XeLaTeX, latexmk or make is missing."""
    missing = missing_tools(which)
    if missing:
        raise RuntimeError(f"the PDF needs XeLaTeX, latexmk and make, and {', '.join(missing)} "
                           f"{'is' if len(missing) == 1 else 'are'} not installed: "
                           f"on Debian or Ubuntu run `{INSTALL}` (about 400 MB), then `make pdf` again")


def assembled_source(out: Path) -> Path:
    """The assembled book of the last ``hdmann book`` in ``out``, or an error saying how to build one."""
    source = Path(out) / "_build" / "source"
    if not (source / "_toc.yml").is_file() or not list((source / "book" / "executed").glob("*.ipynb")):
        raise RuntimeError(f"no book has been built in {Path(out).resolve()}: run `hdmann book --profile smoke` "
                           "(minutes) or `make book` first; the PDF typesets the chapters that build executed")
    return source


def profile_of(source: Path) -> str:
    """The profile the assembled chapters were executed in (their provenance), for the PDF's name."""
    found = set()
    for path in (source / "book" / "executed").glob("*.ipynb"):
        try:
            found.add(json.loads(path.read_text())["metadata"]["hdmann_provenance"]["profile"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found.pop() if len(found) == 1 else "book"


@dataclass
class LatexLog:
    """What the LaTeX log says a reader would miss or see spoilt."""

    pages: int  # as XeLaTeX counted them (the PDF's own page tree is compressed)
    overfull_pt: list[float]  # each line that runs into the margin, by how much
    missing_glyphs: list[str]  # "× in FreeSerif", each once

    @classmethod
    def read(cls, text: str) -> "LatexLog":
        written = PAGES.findall(text)
        glyphs = sorted({f"{char} in {font.strip()}" for char, font in MISSING_GLYPH.findall(text)})
        return cls(int(written[-1]) if written else 0, [float(x) for x in OVERFULL.findall(text)], glyphs)

    def worst_overfull(self) -> float:
        return max(self.overfull_pt, default=0.0)


def build(out=None, log=print) -> Path:
    """Typeset the book last built in ``out`` (default: the project) as ``_build/pdf/hdmann-<profile>.pdf``."""
    out = Path(out or PROJECT).resolve()
    source = assembled_source(out)
    require_tools()
    profile = profile_of(source)
    log(f"hdmann pdf: typesetting the {profile} book of {source} (LaTeX, then XeLaTeX)")
    started = time.perf_counter()
    latex_dir = out / "_build" / "latex"
    if latex_dir.exists():
        shutil.rmtree(latex_dir)  # latexmk would otherwise trust a previous build's auxiliary files
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(source),
           "--builder", "pdflatex", "--path-output", str(out), "--warningiserror", "--keep-going", "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    built = latex_dir / f"{TARGET}.pdf"
    if done.returncode != 0 or not built.is_file():
        tex_log = latex_dir / f"{TARGET}.log"
        errors = [line for line in tex_log.read_text(errors="replace").splitlines() if line.startswith("!")] \
            if tex_log.is_file() else []
        raise RuntimeError(f"the PDF build failed (see {latex_dir}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
                           + ("\nLaTeX errors:\n" + "\n".join(errors[:20]) if errors else ""))
    target = out / "_build" / "pdf" / f"hdmann-{profile}.pdf"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, target)
    report = LatexLog.read((latex_dir / f"{TARGET}.log").read_text(errors="replace"))
    if report.missing_glyphs:
        log(f"  characters the font lacks (shown as blanks): {', '.join(report.missing_glyphs)}")
    log(f"  typeset in {time.perf_counter() - started:.0f} s; {report.pages} pages, widest line "
        f"{report.worst_overfull():.0f} pt into the margin")
    log(f"The PDF is at {target}")
    return target
