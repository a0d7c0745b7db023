"""The book's prose, as a clinician-researcher reads it (issue 35, "Nothing typed by hand"; issue 36,
"The book as a paper").

Two tiers:

* **Source** (fast): every notebook's markdown cells and every static page ``book/*.md`` hold no
  number outside a glue role, except a year, a paper's figure or table number, a citation or
  cross-reference, the 95 % interval level and the short list :data:`ALLOWED` of numbers the papers,
  the standards or the datasets' documentation state (each with its reason). A number a run
  measures is glued, so it changes when the run does.
* **Built book** (slow, the smoke book): each chapter's prose averages at most
  :data:`hdmann.book.prose.MEAN_WORDS` words a sentence with none over
  :data:`~hdmann.book.prose.MAX_WORDS`, and no page shows a raw glue role, nan, None, inf or a code
  identifier in a sentence.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hdmann.book import prose, runner as book

NOTEBOOKS = sorted((book.PROJECT / "notebooks").glob("*.ipynb"))
STATIC = sorted((book.PROJECT / "book").glob("*.md"))

# Phrases whose numbers are not this run's results. Each entry: (regex of the phrase, why its numbers
# may be typed). A number counts as allowed when it lies inside a match.
_QUALITIES = r"(?:50|20|10|5|3|1)"
_RATIOS = r"(?:15|20|25|50|100|500|1,000|5,000|10,000|11,000)"
ALLOWED: tuple[tuple[str, str], ...] = (
    (r"\bSHA-256\b", "the name of the checksum the MIAS download is verified with"),
    (rf"\bqualit(?:y|ies) {_QUALITIES}(?:(?:,| and| to| or|,? then) {_QUALITIES})*\b",
     "Study A's JPEG ladder (qualities 50, 20, 10, 5, 3, 1), the paper's conditions"),
    (rf"\b{_RATIOS}:1\b", "Study B's compression ratios (15:1 to 11,000:1), the paper's conditions"),
    (rf"\bratios? (?:from )?{_RATIOS}(?: to {_RATIOS})\b", "Study B's range of ratios, as the paper states it"),
    (r"\b500-(?:dimensional|bit)\b|\bD = 500\b", "Study A's hypervector dimension, as the paper states it"),
    (r"\b180 ?[x×] ?180\b", "Study A's input size (paper) and isic4's stored size (its README)"),
    (r"\b1024 ?[x×] ?1024\b|\b322 films\b", "a mini-MIAS film's size and the film count (its documentation)"),
    (r"\b28 ?[x×] ?28 pixels\b", "a BreastMNIST image's size (MedMNIST's documentation)"),
    (r"\bCC[- ]BY(?:-NC)? \d\.\d\b", "a licence's version, part of its name"),
    (r"\b600 images per class\b|\b80/20\b", "Study A's augmentation target and split, as the paper states them"),
    (r"\bup to 200 epochs\b|\b90 of them effective\b", "Study A's epoch cap and effective epochs (paper)"),
    (r"\bquality about 95, 4:2:0\b", "how isic4's copy was re-encoded (isic4's README, from its quantisation tables)"),
    (r"\b4:[24]:[04]\b", "JPEG's chroma subsampling (4:2:0, 4:4:4), by its standard name"),
    (r"\b9/7 wavelet\b", "JPEG 2000's irreversible wavelet, by its standard name"),
    (r"\b8x8 block\b|\b8-bit\b|\b16-bit\b|\b32-bit\b", "JPEG's block size and image bit depths (standards)"),
    (r"\bbpp = 8 × bytes\b", "bits per byte, in the definition of bits per pixel"),
    (r"\bAUROC(?: \w+){0,2} (?:below|above|of|near) 0\.5\b|\b0\.5 is chance\b|\bthreshold(?:s|ed)?(?: \w+){0,2} at 0\.5\b",
     "0.5: the AUROC of a score that ranks at random, and the threshold that makes an output a bit (definitions)"),
)
YEAR = re.compile(r"^(?:19|20)\d\d$")
PAPER_NUMBER = re.compile(r"(?:\bFigs?\.|\bFigure|\bTables?)\s*$")  # "Fig. 4", "Table 2" (a paper's numbering)
INTERVAL_LEVEL = re.compile(r"95 ?%(?=\s+(?:[\w-]+\s+){0,2}(?:[\w-]*bootstrap|interval|CI|confidence|bound|lower|upper))")
_PLAIN = r"\d+(?:,\d{3})*(?:\.\d+)?"
NUMBER = re.compile(rf"(?<![\w.:/×])[-−+]?{_PLAIN}(?:[:/x×]{_PLAIN})*(?![\w])")

FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
ROLE = re.compile(r"\{[a-z:-]+\}`[^`]*`")  # {glue:text}`x:.3f`, {numref}`fig-a`, {cite:p}`key`, {doc}`page`
INLINE_CODE = re.compile(r"`[^`\n]+`")
LINK_TARGET = re.compile(r"\]\([^)]*\)")
LABEL = re.compile(r"^\([\w-]+\)=\s*$")
OPTION = re.compile(r"^:[\w-]+:.*$")
HEADING_NUMBER = re.compile(r"^(#+\s+)\d+\.\s")
COMMENT = re.compile(r"<!--.*?-->", re.S)


def prose_lines(markdown: str) -> list[str]:
    """The reader's text of a markdown cell or page: roles, inline code, link targets, labels, directive
    options and code blocks taken out; directive bodies (notes, figure captions) kept."""
    out, fences = [], []  # fences: (marker, keeps its body) of the blocks we are inside
    for line in COMMENT.sub("", markdown).splitlines():
        fence = FENCE.match(line.strip())
        if fence:
            marker, rest = fence.groups()
            if fences and marker == fences[-1][0] and not rest.strip():
                fences.pop()
                continue
            fences.append((marker, rest.strip().startswith("{") and not rest.strip().startswith("{code")))
            continue
        if fences and not all(keep for _, keep in fences):
            continue
        if LABEL.match(line.strip()) or OPTION.match(line.strip()):
            continue
        line = HEADING_NUMBER.sub(r"\1", line)
        line = INLINE_CODE.sub(" ", ROLE.sub("GLUED", line))  # a glued value's unit stays with it: "GLUED:1"
        out.append(LINK_TARGET.sub("]", line))
    return out


def typed_numbers(markdown: str) -> list[str]:
    """The numbers of a markdown text that no glue role, exemption or :data:`ALLOWED` phrase covers."""
    text = " ".join(" ".join(prose_lines(markdown)).split())
    allowed = [m.span() for pattern, _ in ALLOWED for m in re.finditer(pattern, text, re.I)]
    allowed += [m.span() for m in INTERVAL_LEVEL.finditer(text)]
    found = []
    for m in NUMBER.finditer(text):
        token = m.group().lstrip("-−+")
        if YEAR.match(token) or PAPER_NUMBER.search(text[max(0, m.start() - 12):m.start()]):
            continue
        if any(a <= m.start() and m.end() <= b for a, b in allowed):
            continue
        found.append(m.group())
    return found


def _sources():
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "markdown":
                yield f"notebooks/{path.name}", cell.get("id", f"#{i}"), "".join(cell["source"])
    for path in STATIC:
        yield f"book/{path.name}", "page", path.read_text()


@pytest.mark.parametrize("path", [*NOTEBOOKS, *STATIC], ids=lambda p: p.name)
def test_prose_types_no_number_a_run_measures(path):
    """A number in the prose is glued (it follows the run), or it is a year, a paper's figure or table
    number, a citation, the 95 % interval level or one of the :data:`ALLOWED` phrases."""
    where = f"{path.parent.name}/{path.name}"
    faults = [f"{where}, cell {cell}: {', '.join(repr(n) for n in numbers)}"
              for source, cell, text in _sources() if source == where
              for numbers in [typed_numbers(text)] if numbers]
    assert not faults, "numbers typed into the prose (glue them, or say them in words):\n" + "\n".join(faults)


# ------------------------------------------------------------------------------------------------
# the scanner itself
# ------------------------------------------------------------------------------------------------
def test_glued_cited_and_allowed_numbers_pass_and_typed_ones_are_named():
    text = ("The model reaches {glue:text}`acc:.3f` ({glue:text}`low:.3f` to {glue:text}`high:.3f`, 95 % interval) "
            "at quality 5, as Fig. 4 of Study A {cite:p}`barroseverett` showed in 2021; see {numref}`fig-a`.\n"
            "```{glue:figure} fig_x\n:name: fig-x\n\nAt 1,000:1 and 11,000:1, on 180x180 images.\n```\n"
            "```bash\nhdmann book --jobs 2\n```\n"
            "It took about 20 minutes and reached 0.733 on 16 images per class, with `max_epochs=15`.")
    assert typed_numbers(text) == ["20", "0.733", "16"]


def test_a_result_typed_beside_an_allowed_phrase_is_still_caught():
    assert typed_numbers("quality 5 gives 23.33 dB, quality 3 gives 23.25 dB") == ["23.33", "23.25"]
    assert typed_numbers("a 95 % share of the images") == ["95"]
    assert typed_numbers("## 2. Where the representation breaks") == []


# ------------------------------------------------------------------------------------------------
# the built smoke book
# ------------------------------------------------------------------------------------------------
STATIC_PAGES = tuple(p.stem for p in STATIC)
ROOT = "intro"  # the root page of a partial build; the whole book opens on the landing page instead
PAGES = (*book.CHAPTERS, *(name for name in STATIC_PAGES if name != ROOT))
# Pages a reader meets as prose, where a name in backticks should be said in words; the reference pages
# (how to rebuild, the bibliography) name commands and files on purpose.
NO_CODE = (*book.CHAPTERS, ROOT)


def page_path(html_dir: Path, name: str) -> Path:
    folder = Path(html_dir) / "book"
    return folder / "executed" / f"{name}.html" if name in book.CHAPTERS else folder / f"{name}.html"


def page_faults(html_dir: Path, name: str) -> list[str]:
    """What a built page's prose breaks of the book's rules: the sentence budget (chapters and the
    introduction: the mean; every page: the longest), raw glue roles, nan/None/inf and code identifiers
    in its sentences, and names in backticks on the pages read as prose."""
    read = prose.read(page_path(html_dir, name))
    found = []
    if name in NO_CODE and read.mean_words > prose.MEAN_WORDS:
        found.append(f"averages {read.mean_words:.1f} words a sentence (at most {prose.MEAN_WORDS})")
    found += [f"a sentence of {prose.words(s)} words (at most {prose.MAX_WORDS}): {s[:100]}..." for s in read.over]
    found += [f"a raw glue role {r!r}" for r in read.raw_glue]
    found += [f"{m!r} in a sentence" for m in read.missing]
    found += [f"a code identifier in a sentence: {i}" for i in read.identifiers]
    if name in NO_CODE:
        found += [f"a name in backticks in the prose: {c}" for c in read.code]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", PAGES)
def test_the_built_page_reads_as_the_book_promises(smoke_book, name):
    """One idea a sentence, about 20 words: each chapter averages at most 22 words a sentence, no
    sentence on any page runs over 50; nothing raw (a glue role, nan, None, inf, a code identifier)
    reaches a reader."""
    faults = page_faults(smoke_book / "_build" / "html", name)
    assert not faults, f"{name}:\n" + "\n".join(faults)


@pytest.mark.slow
def test_the_introduction_reads_as_the_book_promises(data_root, tmp_path_factory):
    """The introduction is the root page of a partial build (here: the data chapter alone, which needs
    no stage), so it is read there, with the chapters it links named in words."""
    out = tmp_path_factory.mktemp("partial_book")
    book.build("smoke", data_root, out=out, chapters=("data",))
    faults = page_faults(out / "_build" / "html", ROOT)
    assert not faults, f"{ROOT}:\n" + "\n".join(faults)


# ------------------------------------------------------------------------------------------------
# hdmann.book.prose: how a paragraph is cut into sentences
# ------------------------------------------------------------------------------------------------
def test_a_sentence_may_open_with_a_lower_case_name():
    text = "The file shrinks by 1.4 %. libjpeg caps each entry. isic4's classes differ in colour."
    assert prose.sentences(text) == ["The file shrinks by 1.4 %.", "libjpeg caps each entry.",
                                     "isic4's classes differ in colour."]


def test_abbreviations_initials_and_decimals_do_not_end_a_sentence():
    text = ("Jo et al. found it, e.g. at q5 and i.e. below it, as Fig. 4 of Study A shows for T. Barros Everett. "
            "The AUROC is 0.5 vs. 0.7 here.")
    assert prose.sentences(text) == ["Jo et al. found it, e.g. at q5 and i.e. below it, as Fig. 4 of Study A shows "
                                     "for T. Barros Everett.", "The AUROC is 0.5 vs. 0.7 here."]


def test_a_sentence_that_ends_with_study_a_ends_there():
    assert prose.sentences("It reproduces Fig. 4 of Study A. The test folder is small.") == [
        "It reproduces Fig. 4 of Study A.", "The test folder is small."]


def test_inline_code_in_the_prose_is_collected_apart_from_its_sentences(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<article class="bd-article"><p>Set <code class="docutils literal"><span>paper_order=True</span></code> '
                    'to rerun it.</p><div class="cell_output"><p><code>hidden</code></p></div>'
                    '<pre><code>make book</code></pre></article>')
    read = prose.read(page)
    assert read.code == ["paper_order=True"] and read.sentences == ["Set to rerun it."]


def test_the_verb_of_a_trend_follows_the_signs_of_its_steps():
    from hdmann.studies.study_a.report import trend_wording

    assert trend_wording([("original", 0.41234), ("q5", 0.2), ("q1", 0.1)]) == (
        "falls from 0.412 on uncompressed images to 0.200 at q5 and 0.100 at q1")
    assert trend_wording([("original", 0.1), ("q5", 0.2)]).startswith("rises from 0.100")
    assert trend_wording([("original", 0.1), ("q5", 0.2), ("q1", 0.15)]).startswith("goes from 0.100")
    assert trend_wording([("original", 0.1), ("q1", 0.1)]) == "stays at 0.100 at every level shown"


def test_none_opening_a_sentence_is_english_and_a_raw_none_is_not(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<article class="bd-article"><p>None is part of its repository. The budget is None. '
                    'Its AUROC is nan and the gain inf.</p></article>')
    assert prose.read(page).missing == ["None", "nan", "inf"]
