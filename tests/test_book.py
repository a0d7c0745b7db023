"""Tier 3: every chapter notebook through papermill in the smoke profile on the real data, then the
Jupyter Book build with warnings as errors; plus the rules the source notebooks must keep."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from hdmann import book, cli

NOTEBOOKS = sorted((book.PROJECT / "notebooks").glob("*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_every_notebook_is_a_chapter():
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(book.CHAPTERS)
    toc = (book.PROJECT / "_toc.yml").read_text()
    for name in book.CHAPTERS:
        assert f"book/executed/{name}" in toc


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebook_is_thin(path):
    cells = _cells(path)
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit without outputs"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse("".join(params[0]["source"]))
    assigned = {t.id for node in tree.body for t in node.targets}
    assert assigned == {"profile", "data_root"}
    assert all(isinstance(node.value, ast.Constant) for node in tree.body), "parameters are plain literals"
    for c in code:
        tree = ast.parse("".join(c["source"]))
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defs, f"logic belongs in hdmann, not in the notebook: {path.name}"
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_glue_reference_is_glued(path):
    """A ``{glue:...}`name`` in the prose must be glued by a code cell of the same notebook."""
    text = "".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "markdown")
    code = "".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code")
    wanted = {m.split(":")[0] for m in re.findall(r"\{glue:[a-z]+\}`([^`]+)`", text)}
    wanted |= set(re.findall(r"```\{glue:figure\} (\S+)", text))
    literal = set(re.findall(r'glue\("([A-Za-z0-9_]+)"', code))
    patterns = [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(p)) + "$")
                for p in re.findall(r'glue\(f"([^"]+)"', code)]
    missing = [w for w in wanted if w not in literal and not any(p.match(w) for p in patterns)]
    assert not missing, f"{path.name} cites names it never glues: {missing}"


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
def test_smoke_book_builds_from_scratch(tmp_path, data_root):
    """The whole book in the smoke profile with an empty cache, as CI and a new user see it."""
    index = book.build("smoke", data_root, out=tmp_path)
    assert index.is_file()
    html_dir = index.parent
    for name in book.CHAPTERS:
        page = html_dir / "book" / "executed" / f"{name}.html"
        assert page.is_file(), name
        text = page.read_text()
        assert "smoke" in text, f"{name} must say which profile produced it"
        assert "<img" in text, f"{name} shows no figure"
    executed = tmp_path / "_build" / "executed" / "smoke"
    for name in book.CHAPTERS:
        nb = json.loads((executed / f"{name}.ipynb").read_text())
        assert nb["metadata"].get(book.KEY), "executed notebooks carry their dependency key"
    # a rebuild with nothing changed executes nothing
    log = []
    book.build("smoke", data_root, out=tmp_path, log=log.append)
    assert sum("executing" in line for line in log) == 0, log


def test_info_reports_backend_codecs_and_data(data_root, capsys):
    assert cli.main(["info", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out
    assert "Keras backend: jax" in out
    assert "jpg_2000" in out and "missing" not in out
    assert "isic4: train 1633" in out and "mias:  322 films" in out


def test_info_says_when_the_data_is_missing(tmp_path, capsys):
    assert cli.main(["info", "--data-root", str(tmp_path / "nowhere")]) == 1
    assert "hdmann fetch" in capsys.readouterr().out
