"""Study B (Jo et al.): mammograms under JPEG 2000, on lesion patches (the headline) and whole films (a control)."""
from hdmann.studies import Chapter

PART = "Study B: mammograms under JPEG 2000"
CONFIG = ("study_b", "study_b_config")


def patch_stages(profile: str, overrides: dict | None = None) -> list:
    from hdmann.studies.study_b import pipeline
    from hdmann.studies.study_b.config import study_b_config

    return pipeline.stage_calls(study_b_config(profile, overrides))


def control_stages(profile: str, overrides: dict | None = None) -> list:
    from hdmann.studies.study_b import control
    from hdmann.studies.study_b.config import study_b_config

    return control.control_stages(study_b_config(profile, overrides))


CHAPTERS = (
    Chapter("study_b_patches", PART, ("mias",), ("study_b",), patch_stages),
    Chapter("study_b_control", PART, ("mias",), ("study_b",), control_stages),
)
