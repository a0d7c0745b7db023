"""Across studies: which codec keeps each study's model accurate at a given number of bytes."""
from hdmann.studies import Chapter

PART = "Across studies"
CONFIG = ("codecs", "codec_config")


def stages(profile: str, overrides: dict | None = None) -> list:
    from hdmann.studies.codecs import pipeline
    from hdmann.studies.codecs.config import codec_config

    return pipeline.stage_calls(codec_config(profile, overrides))


CHAPTERS = (Chapter("codecs", PART, ("isic4", "mias"), ("codecs", "study_a", "study_b"), stages),)
