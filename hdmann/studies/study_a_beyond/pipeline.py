"""Study A beyond the paper: the pipeline (cached stages), one module per job, gathered here so that
the report, claims, notebooks and the stage graph read one namespace. Tables and verdicts live in
:mod:`hdmann.studies.study_a_beyond.report`, so rewording the chapter never retrains a model.

Stages (:mod:`hdmann.engine.stages`: each keyed by the config fields it reads, its code and the keys of the
stages it reads, so adding a training level or a dimension trains only it):

* :mod:`~hdmann.studies.study_a_beyond.images`: ``train_set`` (per compressed training level, or ``mixed``)
  and ``eval_sets``, at model size; the datasets Study A does not read come from
  :mod:`~hdmann.studies.study_a_beyond.sources`.
* :mod:`~hdmann.studies.study_a_beyond.training`: ``model`` (per training level, dimension, left-out class and
  epoch budget), ``outputs`` and ``cross_entropy_model``.
* :mod:`~hdmann.studies.study_a_beyond.ood`: ``ood_sets`` and ``outputs_on_every_set`` (a frozen model's outputs on
  every set, flipped and far sets included).
* :mod:`~hdmann.studies.study_a_beyond.addition` (``class_addition``),
  :mod:`~hdmann.studies.study_a_beyond.attribution` (``saliency``) and
  :mod:`~hdmann.studies.study_a_beyond.colour` (``colour_baseline``).
"""
from __future__ import annotations

from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a_beyond.addition import ADDITION_FIELDS, class_addition, split_rule
from hdmann.studies.study_a_beyond.attribution import saliency_agreement
from hdmann.studies.study_a_beyond.colour import colour_baseline, thumbnails
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.images import (EVAL_PARTS, MIXED, STOP, eval_sets, image_sets, originals_index,
                                                  train_set, training_images, training_levels)
from hdmann.studies.study_a_beyond.ood import FROZEN_MODELS, OOD_FIELDS, outputs_on_every_set, ood_sets
from hdmann.studies.study_a_beyond.sources import (BREASTMNIST, ISIC_OTHER, breastmnist_file, list_isic_other,
                                                   load_breastmnist, load_isic_other, load_mias_patches)
from hdmann.studies.study_a_beyond.training import (budget, cross_entropy_model, hdmann_outputs, is_study_a_model,
                                                    model_request, outputs, train_hdmann, trained_model)

__all__ = ["ADDITION_FIELDS", "BREASTMNIST", "EVAL_PARTS", "FROZEN_MODELS", "ISIC_OTHER", "MIXED", "OOD_FIELDS", "STOP",
           "breastmnist_file", "budget", "class_addition", "colour_baseline", "cross_entropy_model", "eval_sets",
           "hdmann_outputs", "image_sets", "is_study_a_model", "list_isic_other", "load_breastmnist", "load_isic_other",
           "load_mias_patches", "outputs_on_every_set", "model_request", "ood_sets", "originals_index",
           "outputs", "probe_seed_configs", "saliency_agreement", "seed_configs", "split_rule", "stage_calls",
           "thumbnails", "train_hdmann", "train_set", "trained_model", "training_images", "training_levels"]


def seed_configs(bcfg: StudyABeyondConfig) -> list[StudyABeyondConfig]:
    """The chapter's config once per training seed of Study A (:func:`hdmann.studies.study_a.pipeline.seed_configs`):
    the train x test matrix, whose verdicts are stated across seeds, trains each row once per seed
    (its originals row is then Study A's model of that seed). The first is ``bcfg`` itself."""
    return [bcfg.replace(study_a=c) for c in study_a.seed_configs(bcfg.study_a)]


def probe_seed_configs(bcfg: StudyABeyondConfig) -> list[StudyABeyondConfig]:
    """:func:`seed_configs` for the probes of the frozen Study A model (drift, saliency, class addition,
    out-of-distribution scores), whose verdicts are also stated across seeds: each probes the Study A
    model of its seed, which the matrix has trained already, so a seed costs no training. Past the
    first seed, class addition leaves out the left-out-class rows (each would train a three-class model
    per seed); the chapter's tables show the first seed's, the verdicts every seed's."""
    configs = seed_configs(bcfg)
    return configs[:1] + [b.replace(leave_out_classes=()) for b in configs[1:]]


def stage_calls(bcfg: StudyABeyondConfig) -> list:
    """Every stage the chapter reads (its study's ``__init__`` declares it to the graph)."""
    calls = [outputs.on(b, *model_request(b, level)) for b in seed_configs(bcfg) for level in training_levels(b)]
    calls += [outputs.on(bcfg, *model_request(bcfg, "original", dim, None, dims_sweep=True)) for dim in bcfg.dims]
    calls += [outputs_on_every_set.on(bcfg, which) for which in FROZEN_MODELS]
    calls += [call for b in probe_seed_configs(bcfg)
              for call in (outputs_on_every_set.on(b, "study_a"), class_addition.on(b), saliency_agreement.on(b))]
    return calls + [colour_baseline.on(bcfg)]
