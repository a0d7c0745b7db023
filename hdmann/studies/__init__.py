"""The studies, one folder each, in book order: the only list of them.

A study folder holds ``config.py`` (its typed config and profiles), ``pipeline.py`` (its stages: the
expensive, cached results), ``report.py`` (tables, verdicts, wording; editing it re-keys nothing) and
``figures.py`` (its plots), those it needs, and an ``__init__`` that declares its chapters (:class:`Chapter`: the
notebook, its part of the book, the datasets it reads, the config sections it takes, the stages it
reads) and its config section (``CONFIG``). The book's registry, the stage graph, ``_toc.yml`` and
the ``--set SECTION.FIELD=VALUE`` sections all follow from :data:`STUDIES`: adding a study is its
folder, its notebook(s) and one line here (README, "Adding a study").
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from hdmann.engine import config
from hdmann.engine.config import DEFAULT_PROFILE

STUDIES = ("foundations", "study_a", "study_a_beyond", "study_b", "codecs", "seeds")


@dataclass(frozen=True)
class Chapter:
    name: str  # notebooks/<name>.ipynb, book/executed/<name> in the book
    part: str  # the part's caption in the table of contents
    datasets: tuple[str, ...]  # what it reads (checked before it runs)
    configs: tuple[str, ...]  # config sections it builds: its `overrides` parameter holds these
    stages: Callable[..., list] | None = None  # (profile, overrides) -> the stage calls it reads; None: none

    def overrides(self, overrides: dict | None) -> dict:
        """The part of a build's ``{section: {field: value}}`` overrides this chapter takes."""
        return {s: dict(f) for s, f in sorted((overrides or {}).items()) if s in self.configs and f}

    @property
    def notebook(self) -> Path:
        return Path(__file__).resolve().parents[2] / "notebooks" / f"{self.name}.ipynb"

    def stage_calls(self, profile: str, overrides: dict | None = None) -> list:
        return self.stages(profile, overrides) if self.stages else []


def study(name: str):
    """A study's package (its ``__init__``: chapters and config section; cheap, imports no Keras)."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}: the studies are {', '.join(STUDIES)}")
    return importlib.import_module(f"hdmann.studies.{name}")


def chapters() -> tuple[Chapter, ...]:
    """Every study's chapters, in book order."""
    return tuple(c for name in STUDIES for c in study(name).CHAPTERS)


def sections() -> dict[str, str]:
    """``{config section: study}`` for the studies that have a config."""
    return {study(name).CONFIG[0]: name for name in STUDIES if getattr(study(name), "CONFIG", None)}


def builder(section: str) -> Callable[..., Any]:
    """The config builder of ``section`` (``study_a_config`` for ``study_a``, ...)."""
    known = sections()
    if section not in known:
        raise ValueError(f"unknown config section {section!r}; known: {sorted(known)}")
    owner = known[section]
    return getattr(importlib.import_module(f"hdmann.studies.{owner}.config"), study(owner).CONFIG[1])


def builders() -> dict[str, Callable[..., Any]]:
    """``{config section: its builder}``, every study's."""
    return {section: builder(section) for section in sections()}


def merged(section: str, overrides: dict | None, fields: dict) -> dict:
    """``overrides[section]`` under ``fields``, after checking every section of ``overrides`` is a study's."""
    return config.merged(section, overrides, fields, known=tuple(sections()))


def from_overrides(section: str, profile: str | None = None, overrides: dict | None = None):
    """The config of ``section`` in ``profile`` with ``overrides`` applied."""
    return builder(section)(profile or DEFAULT_PROFILE, overrides)


def check_overrides(profile: str, overrides: dict) -> None:
    """Build every overridden section's config once, so a bad ``--set`` fails before any notebook runs."""
    for section in overrides or {}:
        from_overrides(section, profile, overrides)
