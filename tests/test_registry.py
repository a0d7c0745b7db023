"""hdmann.book.registry (datasets and chapters listed once), the data a chapter subset needs, and book
variants (`hdmann book --set`): their folders, the overrides each chapter takes, and the footer."""
from __future__ import annotations

import json

import pytest
from synthetic import write_isic

from hdmann import studies
from hdmann.book import cli, registry, runner as book, variants
from hdmann.engine import data, provenance


def test_toc_is_the_registry():
    """_toc.yml agrees with the runner by construction: both are the registry's chapter list."""
    assert (book.PROJECT / "_toc.yml").read_text() == registry.toc_yaml(), \
        "regenerate it: python -m hdmann.book.registry > _toc.yml"
    assert book.CHAPTERS == registry.chapter_names()
    assert sorted(p.stem for p in (book.PROJECT / "notebooks").glob("*.ipynb")) == sorted(book.CHAPTERS)
    partial = registry.toc_yaml(["data", "study_b_control"])
    assert "book/executed/data" in partial and "study_a" not in partial and "book/bibliography" in partial


def test_every_chapter_lists_its_stages_in_the_graph():
    """The runner builds a chapter's stages (declared in its study's __init__, read by hdmann.book.graph) before rendering it read-only, so a
    chapter without an entry there could never render."""
    from hdmann.book import graph

    assert sorted(graph.chapter_stages()) == sorted(registry.chapter_names())


def test_chapters_name_known_datasets_and_configs():
    for chapter in registry.chapters():
        assert chapter.notebook.is_file(), chapter.name
        assert set(chapter.datasets) <= set(registry.DATASETS), chapter.name
        assert set(chapter.configs) <= set(studies.builders()), chapter.name
    assert registry.datasets_for(["study_a_model"]) == ("isic4",)
    assert registry.datasets_for(["study_b_control", "study_a_model"]) == ("isic4", "mias")
    with pytest.raises(ValueError, match="unknown chapter 'study_c'"):
        registry.chapter("study_c")


def test_chapter_takes_only_its_sections():
    overrides = {"study_a": {"hypervector_dim": 2000}, "study_b": {"max_films": 30}, "compression": {}}
    assert registry.chapter("data").overrides(overrides) == {}
    assert registry.chapter("study_a_model").overrides(overrides) == {"study_a": {"hypervector_dim": 2000}}
    assert registry.chapter("study_a_beyond").overrides(overrides) == {"study_a": {"hypervector_dim": 2000}}
    assert registry.chapter("compression").overrides(overrides) == {"study_b": {"max_films": 30}}


def test_chapter_subset_checks_only_its_data(tmp_path):
    """`--chapters study_a_model` needs isic4 only: a data root without mias/ passes; a chapter
    that reads mias fails, naming it and how to get it."""
    root = tmp_path / "data"
    write_isic(root)
    lines = []
    assert book.check_data(root, lines.append, ("study_a_model",)) == root.resolve()
    assert len(lines) == 1 and "isic4" in lines[0] and "usable" in lines[0], lines
    with pytest.raises(data.DataError, match=r"mias/.*hdmann fetch mias"):
        book.check_data(root, lines.append, ("study_b_control",))
    with pytest.raises(data.DataError, match="isic-other"):
        book.check_data(root, lines.append, ("study_a_beyond",))


def test_a_partial_data_root_says_which_chapters_it_can_build(tmp_path, capsys):
    """isic4/ and mias/ only (what the README's first commands name): the full build stops before
    anything runs, naming each missing dataset, where it comes from (not a README inside the missing
    folder) and the `--chapters` list that can be built; that list builds; `hdmann info` shows it."""
    from synthetic import write_mias

    root = tmp_path / "data"
    write_isic(root)
    write_mias(root)
    can = registry.buildable(root)
    # the seeds page reads Study A beyond's seeded models, so it needs their data too, as does the landing page
    assert "study_a_beyond" not in can and set(can) == set(book.CHAPTERS) - {"study_a_beyond", "seeds", registry.LANDING}
    with pytest.raises(data.DataError) as failed:
        book.check_data(root, lambda _: None)
    text = str(failed.value)
    assert "isic-other/ (read by study_a_beyond, seeds, summary)" in text and "breastmnist/ (read by study_a_beyond, seeds, summary)" in text
    assert f"--chapters {','.join(can)}" in text and "kaggle.com" in text and "medmnist" in text
    assert "see its README" not in text
    lines = []
    book.check_data(root, lines.append, can)
    assert lines and "also present" not in lines[0], lines
    cli.main(["info", "--data-root", str(root)])
    out = capsys.readouterr().out
    assert "study_a_beyond" in out and "missing isic-other, breastmnist" in out and f"--chapters {','.join(can)}" in out


def test_the_readme_names_the_datasets_each_chapter_reads():
    """README's 'Data' table is the registry's: every dataset, and the chapters that read it."""
    readme = (book.PROJECT / "README.md").read_text()
    for name in registry.DATASETS:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{name}/` |")), None)
        assert row, f"README 'Data' lacks a row for {name}/"
        readers = [c.name for c in registry.chapters() if name in c.datasets]
        assert row.rstrip(" |").endswith(", ".join(readers)), (name, readers)


def test_registry_datasets_are_present_in_the_real_data(data_root):
    for name, dataset in registry.DATASETS.items():
        assert dataset.problems(data_root) == [], name
        assert dataset.count_line(data_root), name


def test_variant_folder_and_name():
    base = book.PROJECT
    assert variants.name("smoke", {}) == "smoke" and variants.out_folder(base, "smoke", None) == base
    one = {"study_a": {"hypervector_dim": 2000}}
    label = variants.name("smoke", one)
    assert label.startswith("smoke+") and len(label) == len("smoke+") + 8
    assert label == variants.name("smoke", json.loads(json.dumps(one))), "stable across runs"
    assert label != variants.name("smoke", {"study_a": {"hypervector_dim": 64}}) != variants.name("quick", one)
    assert variants.out_folder(base, "smoke", one) == base / "_build" / "variants" / label
    assert variants.describe(one) == "study_a.hypervector_dim=2000"


def test_variant_reuses_the_profiles_chapters_no_override_applies_to(tmp_path):
    base, variant = tmp_path / "base", tmp_path / "variant"
    base.mkdir()
    for name in ("data", "study_b_control"):
        (base / f"{name}.ipynb").write_text("{}")
    assert variants.seed_from_profile(base, variant, ["data", "study_b_control", "compression"]) == \
        ["data", "study_b_control"]
    assert variants.seed_from_profile(base, variant, ["data"]) == [], "an up-to-date copy is not copied again"


def test_bad_set_fails_before_anything_runs(tmp_path, capsys):
    for bad, words in ((["study_a.hypervector_dims=2000"], ["hypervector_dims", "hypervector_dim"]),
                       (["study_a.hypervector_dim=big"], ["hypervector_dim", "takes int"]),
                       (["hypervector_dim=2000"], ["SECTION.FIELD=VALUE"])):
        args = ["book", "--profile", "smoke", "--data-root", str(tmp_path / "nowhere"), "--out", str(tmp_path)]
        assert cli.main(args + [a for s in bad for a in ("--set", s)]) == 2
        err = capsys.readouterr().err
        assert all(w in err for w in words), err
    assert not (tmp_path / "_build").exists()


def test_footer_shows_the_overrides():
    record = {"profile": "smoke", "commit": None, "versions": {}, "data": "0" * 64, "device": "CPU: test",
              "finished": "now", "seconds": 3.0}
    plain = provenance.footer_html(record, "results.json")
    assert "overrides" not in plain
    taken = provenance.footer_html({**record, "overrides": {"study_a.hypervector_dim": 2000}}, "results.json")
    assert "overrides <code>study_a.hypervector_dim=2000</code>" in taken
    other = provenance.footer_html({**record, "overrides": {}, "build_overrides": {"study_a.hypervector_dim": 2000}},
                                   "results.json")
    assert "none of which this chapter takes" in other and "study_a.hypervector_dim=2000" in other
