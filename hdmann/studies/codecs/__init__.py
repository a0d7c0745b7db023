"""Across studies: which codec keeps each study's model accurate at a given number of bytes."""
from hdmann.studies import Chapter

PART = "Across studies"
CLAIMS = "claims"  # its claims module: the verdict every table and the landing page show
CONFIG = ("codecs", "codec_config")


def stages(profile: str, overrides: dict | None = None) -> list:
    """The sweeps of both studies, and Study A's own predictions of every seed on originals, which the
    chapter sets beside its values on originals (one quantity, one value across chapters)."""
    from hdmann.studies.codecs import pipeline
    from hdmann.studies.codecs.config import codec_config
    from hdmann.studies.study_a.pipeline import predictions, seed_configs

    cfg = codec_config(profile, overrides)
    return pipeline.stage_calls(cfg) + [predictions.on(c) for c in seed_configs(cfg.study_a)]


CHAPTERS = (Chapter("codecs", PART, ("isic4", "mias"), ("codecs", "study_a", "study_b"), stages),)
