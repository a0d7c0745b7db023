"""The book's datasets and chapters, each listed once.

A **dataset** names its folder under the data root, its loader, how to get it (``hdmann fetch`` or
its README), how it is checked before a build, and how it is counted. The **chapters** are the
studies' (:func:`chapters`, from :data:`hdmann.studies.STUDIES`): each names its notebook
(``notebooks/<name>.ipynb``), its part of the book, the datasets it reads, the configs it takes (the
sections of ``hdmann book --set SECTION.FIELD=VALUE`` passed to it as ``overrides``) and its stages.

The runner (:mod:`hdmann.book.runner`) executes :func:`chapters` in order and checks only the datasets of
the chapters it builds (:func:`check_data`); ``_toc.yml`` is :func:`toc_yaml` (``python -m hdmann.book.registry > _toc.yml``
rewrites it; a test keeps the two equal). README.md, "Adding a study", walks through the files.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hdmann import studies
from hdmann.engine import data
from hdmann.studies import Chapter
from hdmann.studies.study_a_beyond.config import ISIC_OTHER_USABLE


def _resolve(ref: str) -> Callable:
    """``"hdmann.package.module:function"`` -> the function, imported only when used (some import Keras)."""
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Dataset:
    name: str  # its folder under the data root
    description: str
    loader: str  # "module:function" that reads it
    fetch: str | None  # "module:function" behind `hdmann fetch NAME`; None: see the dataset's README
    check: str  # "module:function(root) -> list of problems"; the decoded sets go through hdmann check
    counts: str  # "module:function(root) -> one line of counts"
    decoded_by_check: bool = False  # every image decoded by `hdmann check` (else: presence and layout)
    source: str = ""  # where to get it when `hdmann fetch` cannot

    def problems(self, root: Path) -> list[str]:
        return _resolve(self.check)(root)

    def count_line(self, root: Path) -> str:
        return _resolve(self.counts)(root)


def _isic4_counts(root: Path) -> str:
    counts = data.isic_counts(root)
    return "; ".join(f"{s} {sum(c.values())}" for s, c in counts.items())


def _mias_counts(root: Path) -> str:
    m = data.mias_counts(root)
    return f"{m['films']} films, {m['patients']} patients"


def _decoded(name: str) -> Callable[[Path], list[str]]:
    def check(root: Path) -> list[str]:  # the decoding check runs once for all decoded sets (runner.check_data)
        try:
            data.dataset_dir(name, root)
        except data.DataError as exc:
            return [str(exc)]
        return []
    return check


isic4_problems, mias_problems = _decoded("isic4"), _decoded("mias")


def _missing(name: str, root: Path) -> list[str]:
    """The folder of a dataset `hdmann fetch` cannot get, or why it is absent and where it comes from."""
    if (root / name).is_dir():
        return []
    return [f"{name}/ is missing under the data root {str(root)!r}; it is {DATASETS[name].source}. "
            f"Put it there, or build only the chapters that do not read it (--chapters)."]


def isic_other_problems(root: Path) -> list[str]:
    from hdmann.studies.study_a_beyond.pipeline import list_isic_other

    if _missing("isic-other", root):
        return _missing("isic-other", root)
    try:
        list_isic_other(ISIC_OTHER_USABLE, root)
    except data.DataError as exc:
        return [str(exc)]
    return []


def isic_other_counts(root: Path) -> str:
    from hdmann.studies.study_a_beyond.pipeline import list_isic_other

    items = list_isic_other(ISIC_OTHER_USABLE, root)
    return ", ".join(f"{c} {sum(1 for _, label in items if label == i)}" for i, c in enumerate(ISIC_OTHER_USABLE))


def _breastmnist_file(root: Path) -> Path:
    return data.dataset_dir("breastmnist", root) / "breastmnist.npz"


def breastmnist_problems(root: Path) -> list[str]:
    import numpy as np

    if _missing("breastmnist", root):
        return _missing("breastmnist", root)
    try:
        path = _breastmnist_file(root)
        if not path.is_file():
            return [f"{str(path)!r} is missing; see the breastmnist README for its source."]
        with np.load(path) as npz:
            if "test_images" not in npz.files:
                return [f"{str(path)!r} has no 'test_images' (keys: {npz.files})."]
    except (data.DataError, OSError, ValueError) as exc:
        return [str(exc)]
    return []


def breastmnist_counts(root: Path) -> str:
    import numpy as np

    with np.load(_breastmnist_file(root)) as npz:
        return f"{len(npz['test_images'])} test images"


_HERE = "hdmann.book.registry"
DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("isic4", "ISIC skin lesions, four classes (Study A)", "hdmann.engine.data:load_isic", "hdmann.engine.fetch:fetch_isic4",
            f"{_HERE}:isic4_problems", f"{_HERE}:_isic4_counts", decoded_by_check=True),
    Dataset("mias", "mini-MIAS mammograms (Study B)", "hdmann.engine.data:load_mias", "hdmann.engine.fetch:fetch_mias",
            f"{_HERE}:mias_problems", f"{_HERE}:_mias_counts", decoded_by_check=True),
    Dataset("isic-other", "other ISIC diagnoses: new classes and near out-of-distribution images",
            "hdmann.studies.study_a_beyond.pipeline:load_isic_other", None, f"{_HERE}:isic_other_problems", f"{_HERE}:isic_other_counts",
            source="the five diagnoses of Kaggle's 'Skin Cancer ISIC' set (kaggle.com/datasets/nodoubttome/"
                   "skin-cancer9-classesisic) that isic4 leaves out, as PNG in isic4's layout, less the images whose "
                   "pixels equal an isic4 image (README, 'Data')"),
    Dataset("breastmnist", "BreastMNIST ultrasound: a far out-of-distribution set",
            "hdmann.studies.study_a_beyond.pipeline:load_breastmnist", None, f"{_HERE}:breastmnist_problems", f"{_HERE}:breastmnist_counts",
            source="MedMNIST v2's breastmnist.npz, 28 px (medmnist.com; `pip install medmnist` downloads it; "
                   "README, 'Data')"),
)}

ROOT_PAGE = "book/intro"  # the root when the landing page is not built (a build of some chapters only)
BACK_MATTER = ("Back matter", ("book/reproducing", "book/bibliography"))
LANDING = "summary"  # notebooks/summary.ipynb: the book's first page, once every study is built


def landing_stages(profile: str, overrides: dict | None = None) -> list:
    """What the landing page reads: every study's verdicts, and the codec chapter's curves for its figure."""
    from hdmann.book import verdicts
    from hdmann.studies import codecs

    return verdicts.stage_calls(profile, overrides) + codecs.stages(profile, overrides)


def chapters() -> tuple[Chapter, ...]:
    """Every chapter, in book order (each study's, in :data:`hdmann.studies.STUDIES` order), then the
    landing page, which reads them all and so is executed last but shown first."""
    every = studies.chapters()
    landing = Chapter(LANDING, "", tuple(dict.fromkeys(d for c in every for d in c.datasets)),
                      tuple(dict.fromkeys(s for c in every for s in c.configs)), landing_stages)
    return every + (landing,)


def chapter_names() -> tuple[str, ...]:
    return tuple(c.name for c in chapters())


def chapter(name: str) -> Chapter:
    for c in chapters():
        if c.name == name:
            return c
    raise ValueError(f"unknown chapter {name!r}: choose from {', '.join(chapter_names())}")


def datasets_for(names) -> tuple[str, ...]:
    """The datasets the named chapters read, in :data:`DATASETS` order."""
    wanted = {d for n in names for d in chapter(n).datasets}
    return tuple(d for d in DATASETS if d in wanted)


def missing_datasets(root: Path, names=None) -> tuple[str, ...]:
    """The datasets (of ``names``; default all) whose folder is not under ``root``."""
    return tuple(d for d in (names or DATASETS) if not (Path(root) / d).is_dir())


def buildable(root: Path, names=None) -> tuple[str, ...]:
    """The chapters (of ``names``; default all) whose datasets all have a folder under ``root``."""
    return tuple(n for n in (names or chapter_names()) if not missing_datasets(root, chapter(n).datasets))


def partial_root_advice(root: Path, names=None) -> str:
    """What a data root with some datasets absent can still build, in one paragraph ("" if none is absent)."""
    names = tuple(names or chapter_names())
    missing = missing_datasets(root, datasets_for(names))
    if not missing:
        return ""
    needs = "; ".join(f"{d}/ (read by {', '.join(n for n in names if d in chapter(n).datasets)})" for d in missing)
    can = buildable(root, names)
    then = (f"With what is here, build the other chapters: `hdmann book --chapters {','.join(can)}`."
            if can else "No chapter can be built without them.")
    return f"Missing under {str(root)!r}: {needs}. {then} Where each dataset comes from: README.md, 'Data'."


def check_data(root: Path, datasets, log=print) -> None:
    """Check the named datasets before any notebook runs: ``hdmann check``'s decoding of every image
    for the decoded sets (verdicts cached), presence and layout for the others. One summary line
    when all is well; a :class:`hdmann.engine.data.DataError` listing every problem otherwise."""
    from hdmann.engine import datacheck

    log = log or (lambda _: None)
    unknown = set(datasets) - set(DATASETS)
    if unknown:
        raise ValueError(f"unknown dataset(s) {sorted(unknown)}: known {sorted(DATASETS)}")
    problems = [f"  {p}" for name in datasets if not DATASETS[name].decoded_by_check
                for p in DATASETS[name].problems(root)]
    decoded = tuple(d for d in datasets if DATASETS[d].decoded_by_check)
    also = ("\n" + f"{len(problems)} more problem(s), with datasets that are not decoded:\n" + "\n".join(problems)) \
        if problems else ""
    present = [d for d in datasets if d not in decoded and not missing_datasets(root, (d,))]
    if decoded:
        try:
            report = datacheck.require_clean(root, log=None, datasets=decoded)
        except data.DataError as exc:
            raise data.DataError(str(exc) + also) from None
        log(f"data check: {sum(report.images.values()):,} images usable ("
            + ", ".join(f"{k} {v:,}" for k, v in report.images.items())
            + f") in {report.seconds:.1f} s; {report.decoded} decoded, {report.reused} verdicts reused"
            + (f"; also present: {', '.join(present)}" if present else ""))
    if problems:
        raise data.DataError(f"{len(problems)} problem(s) in the data under {str(root)!r}:\n" + "\n".join(problems))
    if not decoded:
        log(f"data check: {', '.join(datasets)} present")


def toc_yaml(chapters=None) -> str:
    """The Jupyter Book table of contents: the chapters (all, or those named) in their parts, then
    the back matter."""
    shown = [c for c in studies.chapters() if chapters is None or c.name in chapters]
    root = f"book/executed/{LANDING}" if chapters is None or LANDING in chapters else ROOT_PAGE
    lines = ["format: jb-book", f"root: {root}", "parts:"]
    parts: list[str] = []
    for c in shown:
        if c.part not in parts:
            parts.append(c.part)
    for part in parts:
        caption = f'"{part}"' if ":" in part else part
        lines += [f"  - caption: {caption}", "    chapters:"]
        lines += [f"      - file: book/executed/{c.name}" for c in shown if c.part == part]
    caption, pages = BACK_MATTER
    lines += [f"  - caption: {caption}", "    chapters:"] + [f"      - file: {p}" for p in pages]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(toc_yaml(), end="")
