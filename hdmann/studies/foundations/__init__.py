"""Foundations: the data (what the images are) and compression (what JPEG and JPEG 2000 do to them)."""
from hdmann.studies import Chapter

PART = "Foundations"
CONFIG = ("compression", "compression_config")  # the `--set` section and its builder in config.py


def compression_stages(profile: str, overrides: dict | None = None) -> list:
    from hdmann.studies.foundations import pipeline
    from hdmann.studies.foundations.config import compression_config
    from hdmann.studies.study_b import control
    from hdmann.studies.study_b.config import study_b_config

    cfg, bcfg = compression_config(profile, overrides), study_b_config(profile, overrides)
    return [pipeline.isic_survey.on(cfg, codec) for codec in ("jpeg", "jpeg2000")] + [control.film_survey.on(bcfg)]


CHAPTERS = (
    Chapter("data", PART, ("isic4", "mias"), ()),  # counts and checks only: nothing expensive to cache
    Chapter("compression", PART, ("isic4", "mias"), ("compression", "study_b"), compression_stages),
)
