"""Which stages each chapter reads, per profile: the graph ``hdmann run`` builds.

Each chapter declares its stages in its study's ``__init__`` (:class:`hdmann.studies.Chapter`):
``hdmann book`` builds them first and renders its notebook with ``HDMANN_CACHE_READONLY=1``, so a stage missing from this
list fails the render with its name instead of computing inside the kernel.
"""
from __future__ import annotations

from typing import Callable

from hdmann.book import registry
from hdmann.engine import stages


def chapter_stages() -> dict[str, Callable[..., list[stages.Call]]]:
    """``{chapter: (profile, overrides) -> its stage calls}``, from each study's chapters."""
    return {c.name: c.stage_calls for c in registry.chapters()}


def calls_for(targets, profile: str, data_root=None, overrides: dict | None = None) -> list[stages.Call]:
    """The stage calls of ``targets`` (chapter names or stage names; none: every chapter).
    A stage name selects its calls in the chapters' graph, with what they read. ``overrides``
    (``{section: {field: value}}``, ``hdmann book --set``) change the configs as in the notebooks."""
    by_chapter = chapter_stages()
    targets = list(targets) or list(by_chapter)
    every_call = [c for chapter in by_chapter for c in by_chapter[chapter](profile, overrides)]
    calls = []
    for target in targets:
        if target in by_chapter:
            calls += by_chapter[target](profile, overrides)
            continue
        chosen = [n.call for n in stages.plan(every_call, data_root).values() if n.call.stage.name == target]
        if not chosen:
            names = sorted({n.call.stage.name for n in stages.plan(every_call, data_root).values()})
            raise ValueError(f"{target!r} is neither a chapter with stages ({', '.join(by_chapter)}) "
                             f"nor one of their stages ({', '.join(names)})")
        calls += chosen
    return calls
