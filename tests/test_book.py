"""Tier 3: every chapter notebook through papermill in the smoke profile on the real data, then the
Jupyter Book build with warnings as errors; plus the rules the source notebooks must keep."""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from hdmann import studies
from hdmann.book import bookext, cli, registry, report, results, runner as book
from hdmann.engine import cache, provenance

NOTEBOOKS = sorted((book.PROJECT / "notebooks").glob("*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_every_notebook_is_a_chapter():
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(book.CHAPTERS)
    toc = (book.PROJECT / "_toc.yml").read_text()
    for name in book.CHAPTERS:
        assert f"book/executed/{name}" in toc


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_builds_each_config_it_declares_with_its_overrides(path):
    """A chapter's `overrides` reach every config it builds, and it builds only configs the
    registry says it takes (else `--set` would silently miss it, or the variant would reuse it)."""
    from hdmann.book import registry

    code = "".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code")
    if path.stem == registry.LANDING:  # it builds no config itself: every study's claims module does, from its overrides
        assert re.search(r"verdicts\.collect\(profile, data_root, overrides\)", code)
        # a call on the records reads what `collect` built from the overrides; every other call takes them itself
        assert all(f"(profile, data_root, overrides)" in line for line in code.splitlines() if "summary." in line
                   and "(" in line.split("summary.", 1)[1] and not re.search(r"summary\.\w+\(records\b", line))
        return
    built = {section for section, builder in studies.builders().items()
             if re.search(rf"\b{builder.__name__}\(profile, overrides=overrides\)", code)}
    taken = set(registry.chapter(path.stem).configs)
    assert built <= taken, f"{path.stem} builds {built - taken} but the registry does not list them"
    # a config that holds other studies' configs (built from the same overrides) takes them too
    holds = {"study_a_beyond": {"study_a"}, "codecs": {"study_a", "study_b"}}
    nested = set().union(*(holds.get(section, set()) for section in built))
    assert taken <= built | nested, f"{path.stem} takes {taken - built - nested} but never builds them"
    assert not re.search(r"_config\(profile\)", code), f"{path.stem} builds a config without its overrides"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebook_is_thin(path):
    cells = _cells(path)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit without outputs"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse("".join(params[0]["source"]))
    assigned = {t.id for node in tree.body for t in node.targets}
    assert {"profile", "data_root", "overrides"} <= assigned
    for node in tree.body:
        ast.literal_eval(node.value)  # parameters are plain literals (a chapter may add e.g. a list of codecs)
    assert {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}["overrides"] == {}
    for c in code:
        tree = ast.parse("".join(c["source"]))
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defs, f"logic belongs in hdmann, not in the notebook: {path.name}"
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# ")


def _glue_all_sources(code: str) -> list[str]:
    """The source of the report module whose function a notebook hands to ``glue_all`` (``glue_all(alias.fn(...))``,
    the alias imported ``from hdmann... import module as alias``): where the names it glues are written, by the
    function or the helpers beside it."""
    aliases = {}
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hdmann"):
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    sources = []
    for alias, fn in re.findall(r"glue_all\((\w+)\.(\w+)\(", code):
        module = importlib.import_module(aliases[alias])
        assert callable(getattr(module, fn, None)), f"glue_all({alias}.{fn}(...)): {aliases[alias]} has no {fn}"
        sources.append(inspect.getsource(module))
    return sources


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_glue_reference_is_glued(path):
    """A ``{glue:...}`name`` in the prose must be glued by a code cell of the same notebook."""
    text = "".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "markdown")
    code = "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code")
    wanted = {m.split(":")[0] for m in re.findall(r"\{glue:[a-z]+\}`([^`]+)`", text)}
    wanted |= set(re.findall(r"```\{glue:figure\} (\S+)", text))
    literal = set(re.findall(r'glue\("([A-Za-z0-9_]+)"', code))
    fstrings = re.findall(r'glue\(f"([^"]+)"', code)
    for source in _glue_all_sources(code):  # glue_all(report.fn(...)): the names are the dict keys its module writes
        literal |= set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', source))
        fstrings += re.findall(r'f"([A-Za-z_][A-Za-z0-9_]*\{[^"]+)"', source)
    patterns = [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(p)) + "$") for p in fstrings]
    missing = [w for w in wanted if w not in literal and not any(p.match(w) for p in patterns)]
    if "glue_all(" in code:  # a report's dict may name the rest: the built chapter's test checks them
        return
    assert not missing, f"{path.name} cites names it never glues: {missing}"


@pytest.mark.slow
def test_every_cited_name_is_glued_in_the_built_chapter(smoke_book):
    """What a chapter's prose cites, its executed notebook glued (the names a report's dict glues
    through ``glue_all`` are known only once it has run)."""
    executed = smoke_book / "_build" / "executed" / "smoke"
    for path in NOTEBOOKS:
        text = "".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "markdown")
        wanted = {m.split(":")[0] for m in re.findall(r"\{glue:[a-z]+\}`([^`]+)`", text)}
        wanted |= set(re.findall(r"```\{glue:figure\} (\S+)", text))
        nb = json.loads((executed / path.name).read_text())
        glued = {o["metadata"]["scrapbook"]["name"] for c in nb["cells"] for o in c.get("outputs", [])
                 if "scrapbook" in o.get("metadata", {})}
        assert wanted <= glued, f"{path.stem} cites names it never glued: {sorted(wanted - glued)}"


def test_missing_data_fails_fast_with_advice(tmp_path, capsys):
    code = cli.main(["book", "--profile", "smoke", "--data-root", str(tmp_path / "nonexistent"),
                     "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "hdmann fetch" in err and "HDMANN_DATA" in err
    assert not (tmp_path / "_build" / "executed").exists(), "nothing runs before the data check"


def test_unknown_profile_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown profile"):
        book.build("fast", out=tmp_path)


@pytest.mark.slow
def test_smoke_book_builds_from_scratch(smoke_book, data_root, monkeypatch):
    """The whole book in the smoke profile with an empty cache (built once by the ``smoke_book``
    fixture), then a rebuild with nothing changed, which executes nothing."""
    html_dir = smoke_book / "_build" / "html"
    assert (html_dir / "index.html").is_file()
    for name in book.CHAPTERS:
        page = html_dir / "book" / "executed" / f"{name}.html"
        assert page.is_file(), name
        text = page.read_text()
        assert "smoke" in text, f"{name} must say which profile produced it"
        assert "<img" in text, f"{name} shows no figure"
    executed = smoke_book / "_build" / "executed" / "smoke"
    for name in book.CHAPTERS:
        nb = json.loads((executed / f"{name}.ipynb").read_text())
        assert nb["metadata"].get(book.KEY), "executed notebooks carry their dependency key"
        assert nb["metadata"][book.PROVENANCE]["seconds"] > 0, "and their compute time"
    timings = json.loads((smoke_book / "_build" / "timings" / "smoke.json").read_text())
    assert set(timings["chapters"]) == set(book.CHAPTERS), "the build records where its time went"
    assert timings["stages"] and all(s["wall"] > 0 and s["cpu"] > 0 for s in timings["stages"].values())
    assert all(c["wall"] > 0 and c["cpu"] > 0 for c in timings["chapters"].values()), "kernels' CPU included"
    log = []
    stray = html_dir / ".venv" / "lib" / "README.html"  # what a hand-run `jupyter-book build .` once left
    stray.parent.mkdir(parents=True)
    stray.write_text("<html></html>")
    monkeypatch.setenv("HDMANN_CACHE", str(smoke_book / "_cache"))  # the cold build's cache: a true rebuild
    book.build("smoke", data_root, out=smoke_book, log=log.append)
    assert not (html_dir / ".venv").exists(), "stray pages survive a build"
    assert sum("executing" in line for line in log) == 0, log
    assert not any("building" in line for line in log), "a rebuild with nothing changed builds no stage"


def _page(smoke_book, name: str) -> str:
    return (smoke_book / "_build" / "html" / "book" / "executed" / f"{name}.html").read_text()


@pytest.mark.slow
def test_parameters_cells_are_hidden(smoke_book):
    executed = smoke_book / "_build" / "executed" / "smoke"
    for name in book.CHAPTERS:
        tags = {t for c in _cells(executed / f"{name}.ipynb") for t in c["metadata"].get("tags", [])}
        assert {"parameters", "injected-parameters"} <= tags, "papermill's cells are in the executed notebook"
        text = _page(smoke_book, name)  # myst-nb marks each shown cell with a tag_<tag> class
        assert "tag_parameters" not in text and "tag_injected-parameters" not in text, name
        assert "# Parameters" not in text, f"{name} shows papermill's injected cell"


@pytest.mark.slow
def test_every_page_has_a_provenance_footer(smoke_book):
    html_dir = smoke_book / "_build" / "html"
    pages = [html_dir / "book" / "executed" / f"{n}.html" for n in book.CHAPTERS]
    pages += [p for p in (html_dir / "book").glob("*.html")]
    for page in pages:
        text = page.read_text()
        footer = text[text.index('class="hdmann-provenance"'):]
        for expected in ("profile <strong>smoke</strong>", "Keras ", "JAX ", "Pillow ", "OpenJPEG ", "data <code>",
                         "CPU", "results.json"):
            assert expected in footer, f"{page.name}: footer lacks {expected!r}"
        assert ("commit <code>" in footer) or ("no git commit" in footer)
        if page.parent.name == "executed":
            assert re.search(r"computed in \d+ s", footer), page.name


@pytest.mark.slow
def test_results_json_lists_every_glued_value(smoke_book):
    html_dir = smoke_book / "_build" / "html"
    doc = results.load(html_dir / "results.json")
    assert doc == results.load(smoke_book / "_build" / "results" / "smoke.json")
    values = {(v["chapter"], v["name"]): v for v in doc["values"]}
    assert all(v["profile"] == "smoke" for v in doc["values"])
    executed = smoke_book / "_build" / "executed" / "smoke"
    for name in book.CHAPTERS:
        nb = json.loads((executed / f"{name}.ipynb").read_text())
        glued = {o["metadata"]["scrapbook"]["name"] for c in nb["cells"] for o in c.get("outputs", [])
                 if "scrapbook" in o.get("metadata", {})}
        assert glued and glued == {n for c, n in values if c == name}, name
    assert values[("data", "isic_total")] == {"name": "isic_total", "chapter": "data", "profile": "smoke",
                                              "type": "number", "value": 1697}
    assert values[("data", "profile")]["value"] == "smoke"
    assert values[("data", "fig_classes")]["type"] == "figure"
    assert isinstance(values[("study_a_model", "acc_val_original")]["value"], float)


@pytest.mark.slow
def test_tables_are_published_as_csv_and_linked(smoke_book):
    html_dir = smoke_book / "_build" / "html"
    tables = results.load(html_dir / "results.json")["tables"]
    assert {t["chapter"] for t in tables} >= {"data", "compression", "study_a_model", "study_a_representations"}
    for t in tables:
        csv = html_dir / t["path"]
        frame = pd.read_csv(csv)
        assert len(frame) == t["rows"] > 0, t
        assert f'href="{t["chapter"]}/{t["name"]}.csv"' in _page(smoke_book, t["chapter"]), t
    counts = pd.read_csv(html_dir / "book" / "executed" / "data" / "isic_counts.csv", index_col="split")
    assert counts.loc["train", "total"] == 1633


@pytest.mark.slow
def test_the_seeds_page_means_are_the_numbers_its_chapters_glued(smoke_book):
    """The seeds page reads the chapters' stages again: the seed mean of each of its rows that names a
    glued number is that number, as its own chapter computed it."""
    from hdmann.studies.seeds.report import CHAPTER_TITLES

    html_dir = smoke_book / "_build" / "html"
    glued = {(v["chapter"], v["name"]): v["value"] for v in results.load(html_dir / "results.json")["values"]}
    table = pd.read_csv(html_dir / "book" / "executed" / "seeds" / "seed_spread.csv")
    chapter_of = {title: key for key, title in CHAPTER_TITLES.items()}
    matched = set()
    for row in table.itertuples():
        key = (chapter_of[row.chapter], row.number)
        if key in glued:
            assert row.mean == pytest.approx(glued[key], abs=1e-9), key
            values = [float(v) for v in row.values.split(", ")]
            assert len(values) == row.seeds and min(values) == pytest.approx(row.lowest, abs=1e-3)
            matched.add(key[0])
    assert matched == set(CHAPTER_TITLES), matched


@pytest.mark.slow
def test_the_codec_chapter_s_values_on_originals_are_the_studies_own(smoke_book):
    """One quantity, one value: the codec chapter scores every training seed's model, so its accuracy and
    AUROC on originals are the seed means Study A's and Study B's chapters glue."""
    glued = {(v["chapter"], v["name"]): v["value"]
             for v in results.load(smoke_book / "_build" / "html" / "results.json")["values"]}
    for codec_name, chapter, name in (("a_val_orig", "study_a_model", "acc_val_original"),
                                      ("a_test_orig", "study_a_model", "acc_test_original"),
                                      ("b_cnn_orig", "study_b_patches", "orig_cnn")):
        assert glued[("codecs", codec_name)] == pytest.approx(glued[(chapter, name)], abs=1e-9), codec_name
    assert glued[("codecs", "a_check")] == "equal" and glued[("codecs", "b_check")] == "equals"


@pytest.mark.slow
def test_every_figure_has_one_number_in_book_order(smoke_book):
    """One numbering: every figure is "Figure N", counted 1, 2, ... through the book, and a reproduction
    of a paper's figure says so in its caption; no "Study A, Fig. 4" beside the book's "Figure 4"."""
    numbers = []
    for name in [registry.LANDING] + [c for c in book.CHAPTERS if c != registry.LANDING]:  # book order: the root first
        text = _page(smoke_book, name)
        found = [n for n in re.findall(r'<span class="caption-number">([^<]*)</span>', text) if not n.startswith("Table ")]
        assert all(re.fullmatch(r"Figure \d+ ", n) for n in found), (name, found)
        numbers += [int(n.split()[1]) for n in found]
    assert numbers == list(range(1, len(numbers) + 1)), numbers
    data = _page(smoke_book, "data")
    # the data chapter's first figure reproduces the paper's Fig. 1, under the book's own number
    first_caption = data.split('<span class="caption-number">Figure ', 1)[1].split("caption-number", 1)[0]
    assert "Reproduces Fig. 1 of Study A." in first_caption, first_caption[:300]
    for name, fig in (("compression", 2), ("study_a_model", 4), ("study_a_representations", 3)):
        assert f"Reproduces Fig. {fig}" in _page(smoke_book, name), name
    intro = _page(smoke_book, "study_a_model")
    refs = re.findall(r'<span class="std std-numref">([^<]*)</span>', intro)  # the {numref}s to the data chapters
    assert refs[:2] and all(re.fullmatch(r"Figure \d+", r) for r in refs[:2]), refs


def test_table_helper_refuses_bad_names_and_inputs():
    with pytest.raises(ValueError, match="lower-case"):
        report.table(pd.DataFrame({"a": [1]}), "Bad Name")
    with pytest.raises(ValueError, match="DataFrame or Styler"):
        report.table([1, 2], "ok")


def test_table_csv_has_one_header_row_for_multiindex_columns(monkeypatch):
    """A pivot with two column levels must still read back row for row from its CSV."""
    import io

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append((obj, kw)))
    frame = pd.DataFrame({"k": [1, 1, 5], "level": ["original", "q5", "original"], "acc": [0.5, 0.4, 0.7]})
    pivot = frame.pivot_table(index="k", columns="level", values=["acc"], aggfunc="first")
    report.table(pivot, "pivot")
    (payload, kw), = shown
    back = pd.read_csv(io.StringIO(payload[report.CSV_MIME]), index_col="k")
    assert list(back.columns) == ["acc | original", "acc | q5"]
    assert len(back) == kw["metadata"][report.TABLE_METADATA]["rows"] == 2
    report.table(pivot.iloc[:0], "empty", caption="Robustness")
    payload, kw = shown[-1]
    assert "no rows in this profile" in payload["text/html"] and report.CSV_MIME not in payload
    assert report.TABLE_METADATA not in kw.get("metadata", {})


def test_a_caption_that_starts_with_a_papers_number_is_reported(caplog):
    """The old form ("Study A, Fig. 2. ...") would bring back a second numbering: the build (warnings are
    errors) names the figure and says how to write it; an ordinary caption passes, and every image gets
    its caption as alt text."""
    from docutils import nodes

    assert bookext.paper_prefix("Study A, Fig. 2. The melanoma image") == "Study A, Fig. 2"
    assert bookext.paper_prefix("Jo et al., Fig. 3: AUROC") == "Jo et al., Fig. 3"
    assert bookext.paper_prefix("The melanoma image. Reproduces Fig. 2 of Study A.") is None
    assert bookext.paper_prefix("Accuracy per level. Compare study A, Fig. 4. More.") is None

    def doctree(caption):
        figure = nodes.figure("", nodes.image(uri="fig.png"), nodes.caption(caption, caption))
        return nodes.section("", figure), figure

    tree, figure = doctree("The melanoma image. Reproduces Fig. 2 of Study A.")
    with caplog.at_level("WARNING"):
        bookext._captions_and_alt(None, tree, "page")
    assert not [r for r in caplog.records if "paper's number" in r.getMessage()]
    assert next(iter(figure.findall(nodes.image)))["alt"] == "The melanoma image. Reproduces Fig. 2 of Study A."
    tree, _ = doctree("Study A, Fig. 2. The melanoma image.")
    with caplog.at_level("WARNING"):
        bookext._captions_and_alt(None, tree, "page")
    messages = [r.getMessage() for r in caplog.records if "paper's number" in r.getMessage()]
    assert messages and "Reproduces Fig. 2 of Study A." in messages[0], messages


def test_a_warm_rebuild_keeps_the_cold_builds_timings(tmp_path):
    path = tmp_path / "timings" / "quick.json"
    cold = book.BuildTimings(profile="quick", chapters_requested=["data"])
    cold.stages_done({"times": {"study_a/model[quick]": 400.0}, "cpu": {"study_a/model[quick]": 700.0}, "seconds": 400.0})
    cold.write(path)
    book.BuildTimings(profile="quick", chapters_requested=["data"]).write(path)  # built nothing
    assert json.loads(path.read_text())["stages"]["study_a/model[quick]"]["cpu"] == 700.0
    other = book.BuildTimings(profile="quick", chapters_requested=["data"])
    other.stages_done({"times": {"study_a/split[quick]": 5.0}, "cpu": {}, "seconds": 5.0})
    other.write(path)  # a build that built a stage replaces it
    assert list(json.loads(path.read_text())["stages"]) == ["study_a/split[quick]"]
    path.write_text("{not json")  # a damaged record is replaced, not a reason to fail the build
    book.BuildTimings(profile="quick", chapters_requested=["data"]).write(path)
    assert json.loads(path.read_text())["stages"] == {}


def test_provenance_without_git(tmp_path):
    """A tarball (no .git, or inside some other repository) still gets a footer, saying so."""
    assert provenance.git_state(tmp_path) == {"commit": None, "dirty": None}
    record = {"profile": "smoke", "commit": None, "dirty": None, "versions": provenance.versions(),
              "data": "0" * 64, "device": "CPU: test", "finished": "now"}
    footer = provenance.footer_html(record, "../results.json")
    assert "no git commit" in footer and "Keras " in footer and 'href="../results.json"' in footer


def test_provenance_names_every_codec_library_the_book_codes_with(monkeypatch):
    """libjpeg-turbo, OpenJPEG, libwebp and libavif (Pillow's) and libjxl (pillow-jxl-plugin, whose
    GPL licence the footer names); without the plugin, JPEG XL is simply not listed."""
    from importlib import metadata

    from PIL import features

    found = provenance.versions()
    for feature, label in (("libjpeg_turbo", "libjpeg-turbo"), ("jpg_2000", "OpenJPEG"), ("webp", "libwebp"),
                           ("avif", "libavif")):
        assert found[label] == features.version(feature), label
    text = provenance._version_text(found)
    for label in ("libjpeg-turbo", "OpenJPEG", "libwebp", "libavif"):
        assert f"{label} {found[label]}" in text
    try:
        plugin = metadata.version("pillow-jxl-plugin")
    except metadata.PackageNotFoundError:
        plugin = None
    if plugin:
        assert found["libjxl"].endswith(f"via pillow-jxl-plugin {plugin} (GPL-3.0-or-later)")
        assert re.match(r"\d+\.\d+\.\d+ via", found["libjxl"]), found["libjxl"]
        assert f"libjxl {found['libjxl']}" in text
    real = metadata.version

    def without_plugin(name):
        if name == "pillow-jxl-plugin":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "version", without_plugin)
    assert provenance.jxl_version() is None and "libjxl" not in provenance._version_text(provenance.versions())


def test_the_books_bibtex_entry_matches_citation_cff():
    import yaml

    import hdmann

    citation = yaml.safe_load((book.PROJECT / "CITATION.cff").read_text())
    bib = (book.PROJECT / "CITATION.bib").read_text()
    fields = dict(re.findall(r"^\s*(\w+) = \{(.*)\},?$", bib, re.M))
    assert fields["title"] == citation["title"] and fields["version"] == citation["version"] == hdmann.__version__
    assert fields["author"] == "{" + " and ".join(a["name"] for a in citation["authors"]) + "}"
    assert "{literalinclude} ../CITATION.bib" in (book.PROJECT / "book" / "bibliography.md").read_text()


def test_every_reference_has_a_year_or_says_why_not():
    """pybtex prints "n.d." for an entry without a year; an undated work says so and why, in its note."""
    entries = re.split(r"^@", (book.PROJECT / "book" / "references.bib").read_text(), flags=re.M)[1:]
    assert len(entries) >= 10
    for entry in entries:
        key = entry.split("{", 1)[1].split(",", 1)[0]
        year = re.search(r"^\s*year = \{(.*?)\}", entry, re.M)
        assert year, f"{key} has no year: the bibliography would print n.d. without a word"
        if not year.group(1).isdigit():
            assert year.group(1) == "undated" and re.search(r"^\s*note = \{.{40,}", entry, re.M), key


def test_lab_prepares_copies_with_the_profile(tmp_path, data_root, capsys):
    """`make lab` runs `hdmann lab`; with --dry-run it prepares the notebooks and starts nothing."""
    assert cli.main(["lab", "--profile", "smoke", "--data-root", str(data_root), "--out", str(tmp_path),
                     "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "jupyter lab" in out and f"HDMANN_DATA={data_root}" in out
    assert f"HDMANN_CACHE={cache.cache_root()}" in out, "the lab reads the cache hdmann book fills, wherever --out puts _build"
    folder = tmp_path / "_build" / "lab" / "smoke"
    for name in book.CHAPTERS:
        cells = _cells(folder / f"{name}.ipynb")
        injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
        assert len(injected) == 1 and 'profile = "smoke"' in "".join(injected[0]["source"])
    edited = folder / "data.ipynb"
    edited.write_text(edited.read_text().replace('profile = \\"smoke\\"', 'profile = \\"quick\\"'))
    before = edited.read_text()
    cli.main(["lab", "--profile", "smoke", "--data-root", str(data_root), "--out", str(tmp_path), "--dry-run"])
    assert edited.read_text() == before, "a reader's edits survive a second make lab"


def test_info_reports_backend_codecs_and_data(data_root, capsys):
    assert cli.main(["info", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out
    assert "Keras backend: jax" in out
    assert "jpg_2000" in out and "missing" not in out
    assert "isic4: train 1633" in out and "mias:  322 films" in out


def test_info_says_when_the_data_is_missing(tmp_path, capsys):
    assert cli.main(["info", "--data-root", str(tmp_path / "nowhere")]) == 2  # a refused path: exit 2, as every command
    assert "hdmann fetch" in capsys.readouterr().out


@pytest.mark.slow
def test_a_chapter_runs_with_an_override(smoke_book, data_root, tmp_path, monkeypatch):
    """`hdmann book --set` reaches the stages and the kernel: the executed chapter records its
    overrides (injected parameters, provenance, dependency key) and glues the overridden value, and
    the stages the override does not touch (the trained model) are reused, not recomputed."""
    from hdmann.book import graph, registry
    from hdmann.engine import stages

    monkeypatch.setenv("HDMANN_CACHE", str(smoke_book / "_cache"))
    models = smoke_book / "_cache" / "study_a" / "model"
    before = sorted(p.name for p in models.iterdir())
    chapter = "study_a_representations"
    overrides = {"study_a": {"tsne_perplexity": 12.0}}
    context = book.run_context(data_root, registry.chapter(chapter).datasets)
    log = []
    stages.run(graph.calls_for([chapter], "smoke", data_root, overrides), data_root, log=log.append)  # as build() does
    path = book.execute(chapter, "smoke", data_root, tmp_path / "executed", context, log.append, None, overrides)
    nb = json.loads(path.read_text())
    injected = "".join("".join(c["source"]) for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    assert "overrides" in injected and "tsne_perplexity" in injected and "12.0" in injected
    assert nb["metadata"][book.PROVENANCE]["overrides"] == {"study_a.tsne_perplexity": 12.0}
    assert nb["metadata"][book.KEY] != json.loads((smoke_book / "_build" / "executed" / "smoke" / f"{chapter}.ipynb")
                                                  .read_text())["metadata"][book.KEY]
    glued = {v["name"]: v["value"] for v in results.glued_values(nb, chapter, "smoke")}
    assert glued["perplexity"] == 12.0
    assert sorted(p.name for p in models.iterdir()) == before, "the override re-trained the model"
    assert any("executing" in line for line in log) and any("done in" in line for line in log), log
    footer = book.prepare_chapter(nb, chapter, "smoke", {})[0]["cells"][-1]["source"]
    assert "overrides <code>study_a.tsne_perplexity=12.0</code>" in footer


def test_a_partial_build_links_only_the_chapters_it_built(tmp_path):
    """``--chapters`` into an empty folder: the static pages must not link pages the build lacks
    (the book is built with warnings as errors, so such a link would fail it)."""
    executed = tmp_path / "_build" / "executed" / "smoke"
    executed.mkdir(parents=True)
    nb = {"cells": [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# Data"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (executed / "data.ipynb").write_text(json.dumps(nb))
    src, _, _ = book.assemble("smoke", tmp_path)
    intro = (src / "book" / "intro.md").read_text()
    assert "{doc}`executed/data`" in intro
    assert "{doc}`executed/study_a_beyond`" not in intro and "*Study A beyond the paper* (not in this build)" in intro


def test_a_partial_build_unlinks_figures_of_chapters_it_lacks(tmp_path):
    """A page copied into a partial build may cite a figure of a chapter the build lacks (a --set
    variant built with --chapters): that reference becomes text; one to a present figure stays."""
    executed = tmp_path / "_build" / "executed" / "smoke"
    executed.mkdir(parents=True)
    cells = [{"cell_type": "markdown", "id": "a", "metadata": {},
              "source": "# Model\n\nAs {numref}`fig-isic-ladder` shows, and {numref}`Figure %s <fig-here>`.\n"},
             {"cell_type": "markdown", "id": "b", "metadata": {},
              "source": "```{glue:figure} fig\n:name: fig-here\n\nA figure.\n```\n"}]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (executed / "study_a_model.ipynb").write_text(json.dumps(nb))
    src, _, _ = book.assemble("smoke", tmp_path)
    text = "".join(c["source"] for c in json.loads((src / "book" / "executed" / "study_a_model.ipynb").read_text())["cells"])
    assert "{numref}`fig-isic-ladder`" not in text and "`fig-isic-ladder` (in a chapter not in this build)" in text
    assert "{numref}`Figure %s <fig-here>`" in text


def _jupyter_book(*args, cwd=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=900)


def _checkout_without_chapters(folder: Path) -> Path:
    """The book's committed files as a fresh clone has them: configuration, static pages, citation."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml", "CITATION.bib"):
        shutil.copy2(book.PROJECT / name, folder / name)
    shutil.copytree(book.PROJECT / "book", folder / "book", ignore=shutil.ignore_patterns("executed"))
    return folder


def test_jupyter_book_build_in_a_checkout_stops_at_once_with_one_sentence(tmp_path):
    """`jupyter-book build .` on a fresh clone: the chapters are executed notebooks that do not exist
    yet, so it must fail before writing a page (not succeed on a hollow book), say in one sentence
    (no traceback) which command to run, and never read the environment or the caches as pages."""
    _checkout_without_chapters(tmp_path)
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "README.md").write_text("# not a page\n")
    done = _jupyter_book(".", cwd=tmp_path)
    assert done.returncode == 1, "a book without its chapters must not build"
    missing = bookext.missing_chapters(tmp_path)
    assert "book/executed/data" in missing and len(missing) == len(book.CHAPTERS)
    assert done.stderr.strip() == bookext.refusal(missing), done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "hdmann book --profile smoke" in done.stderr
    assert not list((tmp_path / "_build").rglob("*.html")), "no page is written"
    excluded = {p.strip(' "') for p in re.search(r"exclude_patterns: \[(.*?)\]", (book.PROJECT / "_config.yml")
                                                   .read_text(), re.S).group(1).replace("\n", " ").split(",")}
    assert {".venv", "_build", "_cache", "notebooks", bookext.PUBLISHED_DIR} <= excluded


def test_the_refusal_is_one_sentence_naming_what_is_missing():
    text = bookext.refusal(["book/executed/data", "book/executed/compression", "book/executed/codecs",
                            "book/executed/seeds"])
    assert text.startswith("jupyter-book: 4 chapter(s) of _toc.yml have not been executed here "
                           "(book/executed/data, book/executed/compression, book/executed/codecs, ...)")
    assert text.count(". ") == 0 and text.endswith("rebuilds the same HTML.") and "\n" not in text


def test_a_build_leaves_what_jupyter_book_build_dot_needs(tmp_path):
    """leave_for_jupyter_book copies the assembled chapters, the static files, the published tables
    and results.json and the static pages' footer into the checkout, replacing an older build's."""
    src, html, checkout = tmp_path / "source", tmp_path / "html", tmp_path / "checkout"
    (src / "book" / "executed").mkdir(parents=True)
    (src / "book" / "executed" / "data.ipynb").write_text("{}")
    (src / book.STATIC_DIR).mkdir()
    (src / book.STATIC_DIR / "hdmann.css").write_text("body {}")
    (html / "book" / "executed" / "data").mkdir(parents=True)
    (html / "book" / "executed" / "data" / "counts.csv").write_text("a\n1\n")
    (html / "results.json").write_text("{}")
    (checkout / "book" / "executed").mkdir(parents=True)
    (checkout / "book" / "executed" / "stale.ipynb").write_text("{}")
    tables = [{"chapter": "data", "name": "counts", "path": "book/executed/data/counts.csv"}]
    record = {"profile": "smoke", "commit": None, "versions": {}, "data": "0" * 64, "device": "CPU: test", "finished": "now"}
    book.leave_for_jupyter_book(src, html, record, tables, checkout=checkout)
    assert sorted(p.name for p in (checkout / "book" / "executed").iterdir()) == ["data.ipynb", "static-footer.html"]
    assert (checkout / book.STATIC_DIR / "hdmann.css").read_text() == "body {}"
    assert (checkout / bookext.PUBLISHED_DIR / "book" / "executed" / "data" / "counts.csv").read_text() == "a\n1\n"
    assert (checkout / bookext.PUBLISHED_DIR / "results.json").is_file()
    footer = (checkout / bookext.STATIC_FOOTER).read_text()
    assert bookext.PROVENANCE_MARK in footer and 'href="../results.json"' in footer


def test_git_ignores_what_a_build_leaves_in_the_checkout():
    import subprocess

    if not (book.PROJECT / ".git").exists():
        pytest.skip("not a git checkout")
    left = ["book/executed/data.ipynb", "book/executed/static-footer.html", "_static/hdmann.css",
            "_published/results.json"]
    done = subprocess.run(["git", "-C", str(book.PROJECT), "check-ignore", "--no-index", *left], capture_output=True, text=True)
    assert done.stdout.split() == left, done.stdout + done.stderr


@pytest.mark.slow
def test_jupyter_book_build_dot_after_hdmann_book_rebuilds_the_same_html(smoke_book, tmp_path):
    """What `hdmann book` leaves in a checkout lets `jupyter-book build .` there rebuild the book it
    built: every HTML page identical, the tables' CSVs and results.json beside them."""
    checkout = _checkout_without_chapters(tmp_path / "checkout")
    built = smoke_book / "_build" / "html"
    doc = json.loads((built / "results.json").read_text())
    book.leave_for_jupyter_book(smoke_book / "_build" / "source", built, doc["provenance"], doc["tables"], checkout=checkout)
    done = _jupyter_book(".", "--warningiserror", "--nitpick", cwd=checkout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rebuilt = checkout / "_build" / "html"
    pages = sorted(p.relative_to(built) for p in built.rglob("*.html"))
    assert pages and pages == sorted(p.relative_to(rebuilt) for p in rebuilt.rglob("*.html"))
    # Sphinx appends a static file's checksum (?v=...) only when the file was already in the output
    # folder as the page was written: a first build and a rebuild differ there, and in nothing else
    def page(path: Path) -> str:
        return re.sub(r"\?v=[0-9a-f]{8}", "", path.read_text(errors="replace"))

    differ = [str(p) for p in pages if page(built / p) != page(rebuilt / p)]
    assert not differ, differ
    for path in [t["path"] for t in doc["tables"]] + ["results.json"]:
        assert (rebuilt / path).read_bytes() == (built / path).read_bytes(), path


def test_the_command_line_has_a_version_and_help_for_every_option(capsys):
    """`hdmann --version` is the package's (and CITATION.cff's and pyproject's); every option and
    argument of every command says what it does."""
    import argparse
    import tomllib

    import hdmann
    import yaml

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"hdmann {hdmann.__version__}"
    assert tomllib.loads((book.PROJECT / "pyproject.toml").read_text())["project"]["version"] == hdmann.__version__
    citation = yaml.safe_load((book.PROJECT / "CITATION.cff").read_text())
    assert citation["version"] == hdmann.__version__ and citation["license"] == "MIT"
    assert "MIT License" in (book.PROJECT / "LICENSE").read_text()
    parsers = []
    original = argparse.ArgumentParser.parse_args

    def capture(self, *args, **kwargs):
        parsers.append(self)
        raise SystemExit(0)

    argparse.ArgumentParser.parse_args = capture
    try:
        with pytest.raises(SystemExit):
            cli.main(["info"])
    finally:
        argparse.ArgumentParser.parse_args = original
    (top,) = parsers
    commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) >= {"book", "run", "status", "verdicts", "check", "fetch", "info", "compare", "lab"}
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"hdmann {name} {'/'.join(action.option_strings) or action.dest} has no help"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_cli_parameters_reach_the_chapters_configs(path, tmp_path):
    """papermill's own CLI passes `-p` values as text (a JSON object for `overrides`, as a shell
    gives it): the injected cell must build every config the chapter takes, with the override in it."""
    import dataclasses
    import subprocess
    import sys

    from hdmann.book import registry

    sections = registry.chapter(path.stem).configs
    overrides = {s: {"bootstrap_samples": 123} for s in sections
                 if "bootstrap_samples" in {f.name for f in dataclasses.fields(studies.builders()[s]("smoke"))}}
    out = tmp_path / "out.ipynb"
    done = subprocess.run([sys.executable, "-m", "papermill", str(path), str(out), "--prepare-only",
                           "-p", "profile", "smoke", "-p", "data_root", str(tmp_path), "-p", "overrides", json.dumps(overrides)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    namespace: dict = {}
    for cell in _cells(out):
        if {"parameters", "injected-parameters"} & set(cell["metadata"].get("tags", [])):
            exec("".join(cell["source"]), namespace)
    assert namespace["profile"] == "smoke" and isinstance(namespace["overrides"], str)
    for section in sections:
        cfg = studies.builders()[section](namespace["profile"], overrides=namespace["overrides"])
        if section in overrides:
            assert cfg.bootstrap_samples == 123, section


@pytest.mark.slow
def test_a_papermill_cli_rerun_reuses_the_books_stages(smoke_book, data_root, tmp_path):
    """`papermill notebooks/X.ipynb out.ipynb -p overrides '<JSON>'` from another folder, as a reader
    reruns a chapter: it runs, the override reaches the page, and the trained models of `make book`
    are read from the book's cache, not retrained."""
    import os
    import subprocess
    import sys

    models = smoke_book / "_cache" / "study_a" / "model"
    before = sorted(p.name for p in models.iterdir())
    out = tmp_path / "rerun.ipynb"
    env = {**os.environ, "HDMANN_CACHE": str(smoke_book / "_cache")}
    done = subprocess.run([sys.executable, "-m", "papermill", str(book.PROJECT / "notebooks" / "study_a_representations.ipynb"),
                           str(out), "-p", "profile", "smoke", "-p", "data_root", str(data_root),
                           "-p", "overrides", '{"study_a": {"tsne_perplexity": 12.0}}'],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    glued = {v["name"]: v["value"] for v in results.glued_values(json.loads(out.read_text()), "study_a_representations", "smoke")}
    assert glued["perplexity"] == 12.0
    assert sorted(p.name for p in models.iterdir()) == before, "the rerun trained a model the book had built"


def test_stray_pages_of_a_hand_run_build_are_removed(tmp_path):
    html = tmp_path / "html"
    for folder in (".venv/lib", "notebooks", "book/executed", "_static", "_cache_1cpu"):
        (html / folder).mkdir(parents=True)
    (html / "index.html").write_text("")
    assert book.remove_stray_pages(html) == [".venv", "_cache_1cpu", "notebooks"]
    assert sorted(p.name for p in html.iterdir()) == ["_static", "book", "index.html"]


@pytest.mark.slow
def test_every_claim_is_on_the_landing_page_and_in_hdmann_verdicts(smoke_book):
    """One verdict protocol: each study's declared claims appear on the landing page and in the
    chapter that decides them, and every one is a value of hdmann verdicts' records."""
    from hdmann.book import registry, verdicts
    from hdmann.methods import verdicts as vd

    html_dir = smoke_book / "_build" / "html" / "book" / "executed"
    landing = (html_dir / f"{registry.LANDING}.html").read_text()
    modules = verdicts.claim_modules()
    assert set(modules) >= {"study_a", "study_a_beyond", "study_b", "codecs"}
    for study, module in modules.items():
        for claim in module.CLAIMS:
            assert re.search(rf">{claim.id}</span></a>: |>{claim.id}<", landing), f"{claim.id} ({study}) is not on the landing page"
            chapter = (html_dir / f"{claim.chapter}.html").read_text()
            assert f"{claim.id}: " in chapter, f"{claim.id} is not in its chapter {claim.chapter}"
    # the landing page glues every verdict's record, so results.json (and hdmann compare) has each one
    from hdmann.book import results

    glued = [v["name"] for v in results.load(smoke_book / "_build" / "html" / "results.json")["values"]
             if v["chapter"] == registry.LANDING and v["name"].startswith("verdict_")]
    ids = {c.id for m in modules.values() for c in m.CLAIMS}
    assert ids == {name.split("_")[1] for name in glued}
    outcomes = {v["name"]: v["value"] for v in results.load(smoke_book / "_build" / "html" / "results.json")["values"]
                if v["chapter"] == registry.LANDING and v["name"].startswith("verdict_") and v["type"] == "text"
                and not v["name"].endswith(("_check", "_seeds", "_untested"))}
    assert outcomes and set(outcomes.values()) <= set(vd.OUTCOMES), outcomes


@pytest.mark.slow
def test_one_glued_name_is_one_quantity_across_chapters(smoke_book):
    """A name glued by two chapters is one quantity: its value is the same in both (Study A's seed-mean
    accuracy on originals is `acc_val_original` wherever a chapter cites it). Two quantities need two
    names: a chapter's `n_films` that counts other films than another's is a reader's trap."""
    from hdmann.book import results

    by_name: dict[str, dict] = {}
    for v in results.load(smoke_book / "_build" / "html" / "results.json")["values"]:
        if not v["name"].startswith("fig_"):
            by_name.setdefault(v["name"], {})[v["chapter"]] = v["value"]
    differ = {name: chapters for name, chapters in by_name.items() if len(chapters) > 1
              and len({json.dumps(value) if not isinstance(value, float) else round(value, 9)
                       for value in chapters.values()}) > 1}
    assert not differ, f"one name, several values: {differ}"


GLUE_CALLS_MAX, CODE_LINES_MAX = 40, 120  # a chapter's values come from its report, glued in one call


def _called(call: ast.Call) -> str:
    """The name a call calls: ``glue`` for ``glue(...)`` and ``report.glue(...)`` alike."""
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")


def _glues_a_figure(call: ast.Call) -> bool:
    """A ``glue`` call for a figure: its name starts with ``fig`` (a literal or an f-string's opening), or its
    value is a call into a figures module (``figures.x(...)``, ``a_figures.x(...)``)."""
    name = call.args[0] if call.args else None
    opening = name.values[0] if isinstance(name, ast.JoinedStr) and name.values else name
    if isinstance(opening, ast.Constant) and isinstance(opening.value, str) and opening.value.startswith("fig"):
        return True
    value = call.args[1] if len(call.args) > 1 else None
    owner = getattr(getattr(value, "func", None), "value", None) if isinstance(value, ast.Call) else None
    return isinstance(owner, ast.Name) and (owner.id == "figures" or owner.id.endswith("_figures"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_stays_within_its_glue_and_code_budget(path):
    """A notebook plots, tables and glues what its report computed: its values in one ``glue_all`` of the
    report's dict, every other ``glue`` a figure, few code lines, and no sentence built from a condition
    (wording belongs to the report, where a test reads it)."""
    code = "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code")
    calls = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call) and _called(n) in ("glue", "glue_all")]
    glue_alls = [c for c in calls if _called(c) == "glue_all"]
    assert len(glue_alls) == 1, f"{path.name}: {len(glue_alls)} glue_all calls; glue the report's dict in one"
    loose = [ast.unparse(c)[:80] for c in calls if _called(c) == "glue" and not _glues_a_figure(c)]
    assert not loose, f"{path.name} glues values one by one (put them in its report's dict): {loose[:3]}"
    lines = [line for line in code.splitlines() if line.strip() and not line.strip().startswith("#")]
    count = len(re.findall(r"\bglue(?:_all)?\(", code))
    assert count <= GLUE_CALLS_MAX, f"{path.name}: {count} glue calls; glue the report's dict with glue_all"
    assert len(lines) <= CODE_LINES_MAX, f"{path.name}: {len(lines)} code lines; move the logic into hdmann"
    built = [line for line in lines if re.search(r"\"[^\"]*\"\s+if\s+.+\s+else\s+\"", line)]
    assert not built, f"{path.name} builds wording inline: {built[:2]}"
