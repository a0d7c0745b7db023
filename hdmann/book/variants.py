"""Book variants: a profile with config overrides (``hdmann book --set study_a.hypervector_dim=2000``).

A variant is built beside the profile's own book, in ``_build/variants/<profile>+<hash>/`` (its
own ``_build/executed``, ``_build/html``, ``_build/results``), where the hash is of the overrides,
so any number of variants coexist and none overwrites the profile's book. Each chapter receives
only the overrides of the configs it takes (:meth:`hdmann.book.registry.Chapter.overrides`); a chapter
that takes none is the profile's own executed notebook, copied rather than run again (its
dependency key says so). Cache stages are shared: a variant recomputes only what its overrides
change, because stage keys hash the config fields.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from hdmann.engine import config

FOLDER = "variants"


def name(profile: str, overrides: dict | None) -> str:
    """``quick`` without overrides, else ``quick+<8 hex digits of the overrides>``."""
    flat = config.flat_overrides(overrides)
    if not flat:
        return profile
    digest = hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()[:8]
    return f"{profile}+{digest}"


def out_folder(out: Path, profile: str, overrides: dict | None) -> Path:
    """Where a build writes its ``_build/``: ``out`` itself for a profile's book."""
    label = name(profile, overrides)
    return Path(out) if label == profile else Path(out) / "_build" / FOLDER / label


def describe(overrides: dict | None) -> str:
    """``study_a.hypervector_dim=2000, study_b.codec="jpeg"`` (JSON values), or ``""``."""
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in config.flat_overrides(overrides).items())


def seed_from_profile(base_executed: Path, executed: Path, chapters) -> list[str]:
    """Copy the profile's executed notebooks of ``chapters`` (those no override applies to) into a
    variant's folder, so the runner finds them up to date; returns the names copied. A copy whose
    key does not match is simply executed again."""
    copied = []
    for name in chapters:
        source, target = base_executed / f"{name}.ipynb", executed / f"{name}.ipynb"
        if source.is_file() and (not target.is_file() or target.stat().st_mtime < source.stat().st_mtime):
            executed.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            copied.append(name)
    return copied


def write_note(folder: Path, profile: str, overrides: dict) -> None:
    """``overrides.json`` in the variant's folder: what this variant is, for a person browsing _build."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "overrides.json").write_text(json.dumps({"profile": profile, "overrides": overrides}, indent=1) + "\n")
