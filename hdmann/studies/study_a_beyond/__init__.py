"""Study A beyond the paper: training on compressed images, new classes, out-of-distribution images, saliency."""
from hdmann.studies import Chapter
from hdmann.studies.study_a import PART

CLAIMS = "claims"  # its claims module: the verdicts every table and the landing page show
CONFIG = ("study_a_beyond", "study_a_beyond_config")


def stages(profile: str, overrides: dict | None = None) -> list:
    from hdmann.studies.study_a_beyond import pipeline
    from hdmann.studies.study_a_beyond.config import study_a_beyond_config

    return pipeline.stage_calls(study_a_beyond_config(profile, overrides))


CHAPTERS = (
    Chapter("study_a_beyond", PART, ("isic4", "isic-other", "mias", "breastmnist"), ("study_a_beyond", "study_a"),
            stages),
)
