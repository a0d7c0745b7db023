"""The PDF book (``hdmann pdf``): tables typeset for paper, the LaTeX layout, and the smoke book as a PDF.

The unit tests run anywhere. The PDF of the smoke book needs XeLaTeX and poppler's ``pdfimages``
(Debian packages: :data:`hdmann.book.pdf.DEBIAN_PACKAGES` and poppler-utils); without them it skips,
except under CI (``CI`` or ``HDMANN_REQUIRE_DATA`` set), where it fails, as the browser tier does.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hdmann.book import cli, latex_table, latex_layout, pdf, registry, report, runner as book

LINE = latex_table.FONTS[0][1]


def _required() -> bool:
    flags = (os.environ.get("CI", ""), os.environ.get("HDMANN_REQUIRE_DATA", ""))
    return any(f.strip().lower() not in ("", "0", "false") for f in flags)


# ---- tables for paper -----------------------------------------------------------------------------

def test_cells_are_the_stylers_displayed_strings():
    frame = pd.DataFrame({"class": ["melanoma", "nevus"], "images": [1438, 357], "share": [0.51234, 0.4876]})
    header, body, index_columns = latex_table.displayed_cells(
        frame.style.format(precision=2, thousands=",").hide(axis="index"), frame)
    assert header == [["class", "images", "share"]] and index_columns == 0
    assert body == [["melanoma", "1,438", "0.51"], ["nevus", "357", "0.49"]]


def test_a_named_index_and_two_header_levels_keep_their_labels():
    columns = pd.MultiIndex.from_product([["accuracy", "AUROC"], ["q5", "q10"]])
    frame = pd.DataFrame(np.arange(8).reshape(2, 4) / 3, columns=columns, index=pd.Index(["cnn", "resnet"], name="model"))
    header, body, index_columns = latex_table.displayed_cells(frame.style.format(precision=3), frame)
    assert index_columns == 1 and header == [["", "accuracy", "accuracy", "AUROC", "AUROC"], ["model", "q5", "q10", "q5", "q10"]]
    assert body[1] == ["resnet", "1.333", "1.667", "2.000", "2.333"]
    tex = latex_table.latex(frame.style.format(precision=3), frame, "Accuracy and AUROC")
    assert r"\multicolumn{2}{c}{\textbf{accuracy}}" in tex and r"\cmidrule(lr){2-3}" in tex


def test_hidden_columns_stay_hidden_and_line_breaks_in_cells_become_spaces():
    frame = pd.DataFrame({"codec": ["JPEG\n4:2:0"], "secret": [1], "bpp": [0.5]})
    header, body, _ = latex_table.displayed_cells(frame.style.hide(axis="index").hide(["secret"], axis="columns"), frame)
    assert header == [["codec", "bpp"]] and body == [["JPEG 4:2:0", "0.500000"]]
    assert frame.loc[0, "codec"] == "JPEG\n4:2:0", "the chapter's own frame is left as it was"
    bad = pd.DataFrame({"x": [1]}, index=["two\nlines"])
    with pytest.raises(ValueError, match="line break"):
        latex_table.displayed_cells(bad.style, bad)


def test_escape_leaves_unicode_and_lets_identifiers_break():
    assert latex_table.escape("95 % CI & n_seeds #1 $5 {x} ~ ^ \\ `a`") == (
        r"95 \% CI \& n\_\allowbreak{}seeds \#1 \$5 \{x\} \textasciitilde{} \textasciicircum{} "
        r"\textbackslash{} \textasciigrave{}a\textasciigrave{}")
    assert latex_table.escape("× µ ≤ −") == "× µ ≤ −"  # XeLaTeX sets them from the font
    assert latex_table.escape("data/isic") == r"data/\allowbreak{}isic"


def test_a_narrow_table_keeps_its_natural_widths_in_small_type():
    fit = latex_table.layout([["codec", "bpp"]], [["JPEG", "0.512"]], [False, True])
    assert fit.font == "small" and not fit.landscape
    assert fit.widths == pytest.approx([(5 * latex_table.BOLD_HEADER + latex_table.PADDING) / LINE,
                                        (5 + latex_table.PADDING) / LINE])


def test_prose_columns_wrap_and_share_the_line_by_what_they_hold():
    prose = "non-inferiority with margin 0.05: the 95 % interval lies above -0.05 " * 4
    body = [["Accuracy stays flat", "0.250", prose, "holds in 2 of 2 seeds"]]
    fit = latex_table.layout([["claim", "value", "rule", "seeds"]], body, [False, True, False, False])
    assert not fit.landscape and fit.font == "small"
    assert sum(fit.widths) == pytest.approx(1.0)
    claim, value, rule, seeds = (w * LINE for w in fit.widths)
    assert value == pytest.approx(5 * latex_table.BOLD_HEADER + latex_table.PADDING), "a number never wraps"
    assert rule > claim >= latex_table.MIN_TEXT and rule > seeds >= latex_table.MIN_TEXT


def test_a_table_too_wide_for_the_page_turns_landscape_unless_a_few_rows_fit_in_the_smallest_type():
    header = [[f"m{i}" for i in range(12)]]
    many = [[f"{1000 + i:,}.123" for i in range(12)]] * (latex_table.FEW_ROWS + 1)
    fit = latex_table.layout(header, many, [True] * 12)
    assert fit.landscape and fit.font == "small"
    few = latex_table.layout(header, many[:2], [True] * 12)
    assert not few.landscape and few.font == "scriptsize"
    frame = pd.DataFrame([[1000.123] * 12] * 10)
    tex = latex_table.latex(frame.style.format(precision=3, thousands=","), frame)
    assert tex.startswith(r"\begin{landscape}") and tex.endswith(r"\end{landscape}")
    very_wide = latex_table.layout([["x"] * 60], [["123456.789"] * 60] * 10, [True] * 60)
    assert very_wide.landscape and very_wide.font == "scriptsize" and sum(very_wide.widths) == pytest.approx(1.0)


def test_report_table_gives_the_pdf_a_longtable_and_the_web_its_html(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, **kw: shown.append(data))
    monkeypatch.setenv(report.CHAPTER_ENV, "data")
    frame = pd.DataFrame({"class": ["melanoma", "nevus"], "train": [438, 357]})
    report.table(frame, "counts", caption="Images per class, q ≤ 5 & 95 % CI")
    report.table(frame.iloc[:0], "nothing", caption="Rows of a level this profile skips")
    data, empty = shown
    printed = data["text/markdown"]
    assert printed.startswith("```{raw} latex\n") and printed.endswith("\n```\n")
    assert r"\begin{tabular}" in printed and r"\centering Images per class, q ≤ 5 \& 95 \% CI}" in printed
    assert r"melanoma & 438 \\" in printed and "data/\\allowbreak{}counts.csv" in printed
    assert "longtable" not in data["text/html"] and "<table" in data["text/html"] and 'href="data/counts.csv"' in data["text/html"]
    assert "text-align: left" in data["text/html"], "a text column reads from the left, numbers from the right"
    assert r"\emph{Rows of a level this profile skips: no rows in this profile.}" in empty["text/markdown"]


def test_the_pdf_prints_the_columns_the_page_shows_under_the_same_headers(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, **kw: shown.append(data))
    frame = pd.DataFrame({"trained at": ["q5"], "gain": [0.0417], "seed outcomes": [["undecided", "holds"]]})
    report.table(frame, "gains", show={"trained at": "trained at", "gain": "gain at q5 and below"})
    printed = shown[0]["text/markdown"]
    assert r"\textbf{gain at q5 and below}" in printed and "0.042" in printed
    assert "seed outcomes" not in printed and "undecided" not in printed, "a column the page hides stays out of the PDF"


def test_a_short_table_stays_whole_and_a_long_one_breaks_across_pages_with_its_header():
    short = pd.DataFrame({"level": [f"q{q}" for q in range(20)], "accuracy": np.linspace(0.2, 0.9, 20)})
    long = pd.DataFrame({"level": [f"q{q}" for q in range(60)], "accuracy": np.linspace(0.2, 0.9, 60)})
    whole = latex_table.latex(short.style.hide(axis="index"), short, "Twenty levels")
    assert r"\begin{tabular}" in whole and "longtable" not in whole
    broken = latex_table.latex(long.style.hide(axis="index"), long, "Sixty levels")
    assert r"\begin{longtable}" in broken and r"\caption*{Sixty levels}" in broken
    assert broken.count(r"\textbf{level} & \textbf{accuracy} \\") == 2 and r"\endhead" in broken, "the header repeats"
    prose = pd.DataFrame({"rule": ["a sentence of forty characters, wrapped " * 8] * 10})
    assert "longtable" in latex_table.latex(prose.style.hide(axis="index"), prose), "wrapped lines count, not rows"


# ---- the command, the tools, the log --------------------------------------------------------------

def test_missing_tools_name_the_debian_packages_and_the_command(tmp_path):
    with pytest.raises(RuntimeError) as raised:
        pdf.require_tools(which=lambda tool: None if tool == "xelatex" else f"/usr/bin/{tool}")
    message = str(raised.value)
    assert "xelatex is not installed" in message and pdf.INSTALL in message and "\n" not in message
    assert all(package in pdf.INSTALL for package in pdf.DEBIAN_PACKAGES)
    pdf.require_tools(which=lambda tool: f"/usr/bin/{tool}")  # all there: no error


def test_ci_installs_every_package_the_pdf_needs():
    ci = (book.PROJECT / ".ci" / "run").read_text()
    listed = set(re.search(r'TEX_PACKAGES="([^"]+)"', ci).group(1).split())
    assert set(pdf.DEBIAN_PACKAGES) | {"poppler-utils"} <= listed
    assert "--no-install-recommends $TEX_PACKAGES" in ci


def test_without_a_built_book_hdmann_pdf_says_which_command_to_run(tmp_path, capsys):
    assert cli.main(["pdf", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hdmann pdf: error: no book has been built in") and "hdmann book --profile smoke" in err
    assert len(err.splitlines()) == 1


def test_the_latex_log_is_read_for_pages_margins_and_missing_glyphs():
    log = ("Overfull \\hbox (12.5pt too wide) in paragraph at lines 10--11\n"
           "Overfull \\hbox (0.3pt too wide) in paragraph at lines 20--20\n"
           "Overfull \\vbox (3pt too high) has occurred while \\output is active\n"
           "Missing character: There is no ≤ in font FreeSerif:mode=node;script=latn;language=dflt;!\n"
           "Missing character: There is no ≤ in font FreeSerif:mode=node;script=latn;language=dflt;!\n"
           "Output written on hdmann.pdf (88 pages).\n")
    read = pdf.LatexLog.read(log)
    assert read.pages == 88 and read.overfull_pt == [12.5, 0.3] and read.worst_overfull() == 12.5
    assert read.missing_glyphs == ["≤ in FreeSerif:mode=node;script=latn;language=dflt;"]
    assert pdf.LatexLog.read("").pages == 0 and pdf.LatexLog.read("").worst_overfull() == 0.0


def test_the_provenance_footer_reads_as_one_line_of_text():
    footer = ('<div class="hdmann-provenance">\n<p><strong>Provenance</strong>: profile <strong>smoke</strong> &middot; '
              'commit <code>abc</code> &middot; <a href="../results.json">every number (results.json)</a></p>\n</div>\n')
    assert latex_layout.provenance_text(footer) == "Provenance: profile smoke · commit abc · every number (results.json)"


# ---- the smoke book as a PDF ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def smoke_pdf(smoke_book):
    """``hdmann pdf`` of the smoke book the book tier built (nothing is executed again)."""
    missing = pdf.missing_tools() + ([] if shutil.which("pdfimages") else ["pdfimages"])
    if missing:
        reason = f"{', '.join(missing)} not installed ({pdf.INSTALL} poppler-utils)"
        if _required():
            pytest.fail(f"the PDF test must run under CI but {reason}", pytrace=False)
        pytest.skip(reason)
    log = []
    target = pdf.build(smoke_book, log=log.append)
    return target, smoke_book / "_build" / "latex", log


@pytest.mark.slow
def test_the_smoke_book_typesets_as_one_pdf_with_every_chapter_figure_and_table(smoke_pdf, smoke_book):
    target, latex_dir, log = smoke_pdf
    assert target == smoke_book / "_build" / "pdf" / "hdmann-smoke.pdf" and target.read_bytes().startswith(b"%PDF")
    assert log[-1] == f"The PDF is at {target}"
    read = pdf.LatexLog.read((latex_dir / f"{pdf.TARGET}.log").read_text(errors="replace"))
    toc = (latex_dir / f"{pdf.TARGET}.toc").read_text(errors="replace")
    tex = (latex_dir / f"{pdf.TARGET}.tex").read_text(errors="replace")
    chapters = re.findall(r"\\contentsline \{chapter\}\{\\numberline \{(\d+)\}", toc)
    parts = re.findall(r"\\contentsline \{part\}", toc)
    pages = len(book.CHAPTERS) - 1 + len(registry.BACK_MATTER[1])  # the landing page is the unnumbered opening
    assert chapters == [str(n) for n in range(1, pages + 1)], "every chapter and back-matter page, numbered from 1"
    assert len(parts) == len({c.part for c in registry.chapters() if c.part}) + 1, "a part per caption of the contents"
    assert read.pages >= 3 * len(book.CHAPTERS), read.pages
    assert not read.missing_glyphs, read.missing_glyphs
    assert read.worst_overfull() <= 6.0 and len(read.overfull_pt) <= 40, sorted(read.overfull_pt)[-10:]
    assert "Overfull \\vbox" not in (latex_dir / f"{pdf.TARGET}.log").read_text(errors="replace"), "text past a page's foot"
    # every figure of the web book is in the PDF
    images = subprocess.run(["pdfimages", "-list", str(target)], capture_output=True, text=True, check=True).stdout
    embedded = [line for line in images.splitlines()[2:] if line.split()[2:3] == ["image"]]
    figures = list((smoke_book / "_build" / "html" / "_images").glob("*.png"))
    assert len(embedded) >= len(figures) > 0, (len(embedded), len(figures))
    # every published table, as a table (not the text fallback), and no code the web page folds
    tables = json.loads((smoke_book / "_build" / "html" / "results.json").read_text())["tables"]
    assert tex.count(r"\begin{longtable}") + tex.count(r"\begin{tabular}") >= len(tables) > 0
    for t in tables:
        assert latex_table.escape(f"{t['chapter']}/{t['name']}.csv") in tex, t
    assert "from hdmann" not in tex and "report.table(" not in tex, "a folded code cell was typeset"
    assert tex.count("Provenance") >= len(book.CHAPTERS)


@pytest.mark.slow
def test_every_page_renders_with_ink_for_people_to_look_at(smoke_pdf):
    """Every page rendered as PNG at 60 dpi, beside a copy of the PDF, in ``_build/screenshots/smoke-pdf/``
    (or ``$HDMANN_SCREENSHOTS-pdf``), as the browser tier keeps its screenshots; no page is blank."""
    from PIL import Image

    target, latex_dir, _ = smoke_pdf
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm (poppler-utils) is missing beside pdfimages", pytrace=False)
    shots = os.environ.get("HDMANN_SCREENSHOTS")
    folder = Path(f"{shots}-pdf") if shots else book.PROJECT / "_build" / "screenshots" / "smoke-pdf"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy2(target, folder / target.name)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(target), str(folder / "page")], check=True)
    pages = sorted(folder.glob("page-*.png"))
    assert len(pages) == pdf.LatexLog.read((latex_dir / f"{pdf.TARGET}.log").read_text(errors="replace")).pages
    blank = [p.name for p in pages if np.asarray(Image.open(p).convert("L")).min() > 128]
    assert not blank, blank
