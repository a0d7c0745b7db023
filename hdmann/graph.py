"""Which stages each chapter reads, per profile: the graph ``hdmann run`` builds.

Every chapter of :mod:`hdmann.registry` is listed here (a test checks it): ``hdmann book`` builds its
stages first and renders its notebook with ``HDMANN_CACHE_READONLY=1``, so a stage missing from this
list fails the render with its name instead of computing inside the kernel.
"""
from __future__ import annotations

from typing import Callable

from hdmann import stages
from hdmann.config import codec_config, compression_config, study_a_beyond_config, study_a_config, study_b_config


def _compression(profile: str, overrides: dict | None = None) -> list[stages.Call]:
    from hdmann import codec_survey, study_b

    cfg, bcfg = compression_config(profile, overrides), study_b_config(profile, overrides)
    return ([codec_survey.isic_survey.on(cfg, codec) for codec in ("jpeg", "jpeg2000")]
            + [study_b.film_survey.on(bcfg)])


def _study_a_model(profile: str, overrides: dict | None = None) -> list[stages.Call]:
    from hdmann import study_a

    cfg = study_a_config(profile, overrides)
    calls = []
    # every training seed, and the paper's literal order (one seed) that the chapter sets beside ours
    for c in study_a.seed_configs(cfg) + [cfg.replace(paper_order=True, seeds=1)]:
        calls += [study_a.split_data.on(c), study_a.train_model.on(c), study_a.predictions.on(c)]
    return calls


def _study_a_representations(profile: str, overrides: dict | None = None) -> list[stages.Call]:
    from hdmann import study_a

    cfg = study_a_config(profile, overrides)
    return [study_a.predictions.on(c) for c in study_a.seed_configs(cfg)] + [study_a.tsne_maps.on(cfg, "val")]


def _study_b_control(profile: str, overrides: dict | None = None) -> list[stages.Call]:
    from hdmann import study_b

    return study_b.control_stages(study_b_config(profile, overrides))


def _study_a_beyond(profile: str, overrides: dict | None = None) -> list[stages.Call]:
    from hdmann import study_a_beyond

    return study_a_beyond.stage_calls(study_a_beyond_config(profile, overrides))


def _study_b_patches(profile: str, overrides: dict | None = None) -> list[stages.Call]:
    from hdmann import study_b_patches

    return study_b_patches.stage_calls(study_b_config(profile, overrides))


def _codecs(profile: str, overrides: dict | None = None) -> list[stages.Call]:
    from hdmann import rate_accuracy

    return rate_accuracy.stage_calls(codec_config(profile, overrides))


CHAPTER_STAGES: dict[str, Callable[..., list[stages.Call]]] = {
    "data": lambda profile, overrides=None: [],  # counts and checks only: nothing expensive to cache
    "compression": _compression,
    "study_a_model": _study_a_model,
    "study_a_representations": _study_a_representations,
    "study_b_control": _study_b_control,
    "study_b_patches": _study_b_patches,
    "study_a_beyond": _study_a_beyond,
    "codecs": _codecs,
}


def calls_for(targets, profile: str, data_root=None, overrides: dict | None = None) -> list[stages.Call]:
    """The stage calls of ``targets`` (chapter names or stage names; none: every chapter).
    A stage name selects its calls in the chapters' graph, with what they read. ``overrides``
    (``{section: {field: value}}``, ``hdmann book --set``) change the configs as in the notebooks."""
    targets = list(targets) or list(CHAPTER_STAGES)
    everything = [c for chapter in CHAPTER_STAGES for c in CHAPTER_STAGES[chapter](profile, overrides)]
    calls = []
    for target in targets:
        if target in CHAPTER_STAGES:
            calls += CHAPTER_STAGES[target](profile, overrides)
            continue
        chosen = [n.call for n in stages.plan(everything, data_root).values() if n.call.stage.name == target]
        if not chosen:
            names = sorted({n.call.stage.name for n in stages.plan(everything, data_root).values()})
            raise ValueError(f"{target!r} is neither a chapter with stages ({', '.join(CHAPTER_STAGES)}) "
                             f"nor one of their stages ({', '.join(names)})")
        calls += chosen
    return calls
